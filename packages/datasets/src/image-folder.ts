/**
 * An ImageNet-style folder: `<root>/<class>/<image>.JPEG`. Classes are the subdirectories in sorted
 * (code-unit) order, as torchvision ImageFolder does; class index = position in that list. Index
 * order is class by class, files in natural name order within a class. Each image is decoded with
 * jpeg-js (3 channels forced), resized so its shorter side is `resize` (antialiased bilinear, as
 * torchvision `Resize(int)`), then center-cropped to `crop`×`crop` (torchvision `CenterCrop`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataFormatError, MissingFileError, type DatasetInfo } from '@dbp-bench/framework';
import { centerCrop, readJpegRgb, resizeBilinear, resizeShorterSize, writeRgb, type RgbImage } from './image';
import type { OptionsOf } from '@dbp-bench/framework';
import type imageFolder from './dataset/image-folder';
import { ArrayBackedDataset, codeUnitCompare, isDir, LruCache, naturalCompare } from './util';

/**
 * The options of the `image-folder` plugin: `dir/<split>` is used when it exists, else `dir` itself
 * holds the class folders; `resize` 0 keeps the decoded size, `crop` 0 = no crop (then every image
 * must end up with the same size).
 */
export type ImageFolderOptions = OptionsOf<typeof imageFolder.schema>;

/** Class folders and files of an image-folder root. */
export function scanImageFolder(root: string, extensions: readonly string[]): { classes: string[]; files: string[]; labels: number[] } {
  const exts = extensions.map((e) => (e.startsWith('.') ? e : `.${e}`).toLowerCase());
  const classes = fs
    .readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort(codeUnitCompare);
  if (classes.length === 0) throw new DataFormatError(root, 'no class folders found; expected <root>/<class>/<image> (ImageNet style)');
  const files: string[] = [];
  const labels: number[] = [];
  classes.forEach((c, k) => {
    const names = fs
      .readdirSync(path.join(root, c))
      .filter((n) => exts.includes(path.extname(n).toLowerCase()))
      .sort(naturalCompare);
    for (const n of names) {
      files.push(path.join(root, c, n));
      labels.push(k);
    }
  });
  if (files.length === 0)
    throw new DataFormatError(root, `no image files with extension ${exts.join(', ')} in the ${classes.length} class folders`);
  return { classes, files, labels };
}

/** Images of an ImageNet-style folder, processed to a fixed [crop, crop, 3] shape (or the common decoded size). */
export class ImageFolderDataset extends ArrayBackedDataset {
  readonly root: string;
  readonly files: readonly string[];
  private readonly cache: LruCache<number, RgbImage>;

  constructor(private readonly options: ImageFolderOptions) {
    if (!isDir(options.dir)) throw new MissingFileError(options.dir, 'expected a directory of class folders (<class>/<image>.JPEG)');
    const splitDir = options.split ? path.join(options.dir, options.split) : '';
    const root = splitDir && isDir(splitDir) ? splitDir : options.dir;
    const { classes, files, labels } = scanImageFolder(root, options.extensions);
    let shape: [number, number, number];
    let first: RgbImage | undefined;
    if (options.crop > 0) shape = [options.crop, options.crop, 3];
    else {
      first = ImageFolderDataset.process(files[0], options);
      shape = [first.height, first.width, 3];
    }
    const info: DatasetInfo = {
      id: 'image-folder',
      split: options.split,
      size: files.length,
      shape,
      numClasses: classes.length,
      classNames: classes,
      source: root,
    };
    super(info, Int32Array.from(labels));
    this.root = root;
    this.files = files;
    this.cache = new LruCache(options.cacheSize);
    if (first) this.cache.set(0, first);
  }

  /** Decode, resize and crop one file. */
  static process(file: string, options: Pick<ImageFolderOptions, 'resize' | 'crop'>): RgbImage {
    let img = readJpegRgb(file);
    if (options.resize > 0) {
      const s = resizeShorterSize(img.width, img.height, options.resize);
      img = resizeBilinear(img, s.width, s.height);
    }
    if (options.crop > 0) img = centerCrop(img, options.crop);
    return img;
  }

  protected writeImage(index: number, out: Float32Array, offset: number): void {
    let img = this.cache.get(index);
    if (!img) {
      const file = this.files[index];
      img = ImageFolderDataset.process(file, this.options);
      const [h, w] = this.info.shape;
      if (img.height !== h || img.width !== w) {
        throw new DataFormatError(
          file,
          `processed to ${img.width}×${img.height}, but the dataset's images are ${w}×${h}; set 'crop' to give every image the same size`,
        );
      }
      this.cache.set(index, img);
    }
    writeRgb(img, out, offset);
  }
}
