/**
 * Tiny-ImageNet-200 in its official layout:
 *
 *   tiny-imagenet-200/wnids.txt                      200 class ids (wnids), NOT sorted
 *   tiny-imagenet-200/words.txt                      wnid <TAB> English names
 *   tiny-imagenet-200/train/<wnid>/images/*.JPEG     500 per class
 *   tiny-imagenet-200/val/images/val_<k>.JPEG        10000 images
 *   tiny-imagenet-200/val/val_annotations.txt        file <TAB> wnid <TAB> x0 y0 x1 y1
 *
 * Class index = position of the wnid in the SORTED wnid list (code-unit order, = Python `sorted()`),
 * the order torchvision ImageFolder and RobustBench-style loaders use. Val index i is the i-th
 * annotation row in natural file-name order (so index k is `val_k.JPEG` in the official release);
 * train index order is class by class (sorted wnids), files in natural order within a class.
 * Images are 64×64 JPEGs decoded with jpeg-js; greyscale ones are forced to 3 channels.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataFormatError, MissingFileError, readTextChecked, type DatasetInfo } from '@dbp-bench/framework';
import { readJpegRgb, writeRgb, type RgbImage } from './image';
import type { OptionsOf } from '@dbp-bench/framework';
import type tinyImagenet from './dataset/tiny-imagenet';
import { ArrayBackedDataset, codeUnitCompare, findDataDir, isDir, isFile, LruCache, naturalCompare, readLines } from './util';

/**
 * The options of the `tiny-imagenet` plugin: `dir` is `tiny-imagenet-200/` itself or its parent,
 * `cacheSize` the decoded images kept in memory (64×64×3 bytes each).
 */
export type TinyImageNetOptions = OptionsOf<typeof tinyImagenet.schema>;

/** The sorted wnid list of a Tiny-ImageNet root (validated: non-empty, unique ids). */
export function readWnids(root: string): string[] {
  const file = path.join(root, 'wnids.txt');
  const wnids = readLines(file);
  if (wnids.length === 0) throw new DataFormatError(file, 'expected one wnid per line, found none');
  const seen = new Set<string>();
  wnids.forEach((w, i) => {
    if (/\s/.test(w)) throw new DataFormatError(file, `line ${i + 1}: '${w}' is not a wnid (expected one id per line)`);
    if (seen.has(w)) throw new DataFormatError(file, `line ${i + 1}: wnid ${w} appears twice`);
    seen.add(w);
  });
  return wnids.slice().sort(codeUnitCompare);
}

/** English name of each wnid (the first name in words.txt), or the wnid when words.txt lacks it. */
function readNames(root: string, wnids: readonly string[]): string[] {
  const file = path.join(root, 'words.txt');
  if (!isFile(file)) return wnids.slice();
  const want = new Set(wnids);
  const names = new Map<string, string>();
  for (const line of readTextChecked(file, 'words.txt (wnid<TAB>names per line)').split(/\r?\n/)) {
    const tab = line.indexOf('\t');
    if (tab < 0) continue;
    const id = line.slice(0, tab).trim();
    if (want.has(id))
      names.set(
        id,
        line
          .slice(tab + 1)
          .split(',')[0]
          .trim(),
      );
  }
  return wnids.map((w) => names.get(w) ?? w);
}

/** Val annotations: file names and wnids, in natural file-name order. */
export function readValAnnotations(root: string): { files: string[]; wnids: string[] } {
  const file = path.join(root, 'val', 'val_annotations.txt');
  if (!isFile(file))
    throw new MissingFileError(file, 'the val split needs val/val_annotations.txt (file, wnid, box per line, tab-separated)');
  const rows: [string, string][] = [];
  readTextChecked(file, 'val/val_annotations.txt (file, wnid, box per line)')
    .split(/\r?\n/)
    .forEach((line, i) => {
      if (!line.trim()) return;
      const f = line.split('\t');
      if (f.length < 2 || !f[0] || !f[1])
        throw new DataFormatError(
          file,
          `line ${i + 1}: expected 'file<TAB>wnid<TAB>x0<TAB>y0<TAB>x1<TAB>y1', found '${line.slice(0, 80)}'`,
        );
      rows.push([f[0].trim(), f[1].trim()]);
    });
  if (rows.length === 0) throw new DataFormatError(file, 'no annotation rows');
  rows.sort((a, b) => naturalCompare(a[0], b[0]));
  return { files: rows.map((r) => r[0]), wnids: rows.map((r) => r[1]) };
}

/**
 * A Tiny-ImageNet split (train or val) as 64×64×3 images in [0,1]. JPEGs are decoded on demand
 * and the last `cacheSize` decoded images are kept.
 */
export class TinyImageNetDataset extends ArrayBackedDataset {
  /** Class ids in class-index order (sorted). */
  readonly wnids: readonly string[];
  /** Root directory (the one holding wnids.txt). */
  readonly root: string;
  /** Image file of each index. */
  readonly files: readonly string[];
  private readonly cache: LruCache<number, RgbImage>;

  constructor(options: TinyImageNetOptions) {
    const root = findDataDir(
      [options.dir, path.join(options.dir, 'tiny-imagenet-200')],
      'wnids.txt',
      `Download with 'dbp-bench data download tiny-imagenet --dir ${options.dir}', or unzip the official tiny-imagenet-200.zip there by hand.`,
    );
    const wnids = readWnids(root);
    const classOf = new Map(wnids.map((w, i) => [w, i] as const));
    const files: string[] = [];
    const labels: number[] = [];
    if (options.split === 'val') {
      const ann = readValAnnotations(root);
      const annFile = path.join(root, 'val', 'val_annotations.txt');
      ann.files.forEach((f, i) => {
        const c = classOf.get(ann.wnids[i]);
        if (c === undefined) throw new DataFormatError(annFile, `${f}: wnid ${ann.wnids[i]} is not in wnids.txt`);
        files.push(path.join(root, 'val', 'images', f));
        labels.push(c);
      });
    } else {
      wnids.forEach((w, c) => {
        const dir = path.join(root, 'train', w, 'images');
        if (!isDir(dir))
          throw new MissingFileError(dir, `the train split needs train/<wnid>/images/ for each of the ${wnids.length} wnids`);
        const names = fs
          .readdirSync(dir)
          .filter((n) => /\.jpe?g$/i.test(n))
          .sort(naturalCompare);
        if (names.length === 0) throw new DataFormatError(dir, `no JPEG files for class ${w}`);
        for (const n of names) {
          files.push(path.join(dir, n));
          labels.push(c);
        }
      });
    }
    const info: DatasetInfo = {
      id: 'tiny-imagenet',
      split: options.split,
      size: files.length,
      shape: [64, 64, 3],
      numClasses: wnids.length,
      classNames: readNames(root, wnids),
      source: root,
    };
    super(info, Int32Array.from(labels));
    this.wnids = wnids;
    this.root = root;
    this.files = files;
    this.cache = new LruCache(options.cacheSize);
  }

  protected writeImage(index: number, out: Float32Array, offset: number): void {
    let img = this.cache.get(index);
    if (!img) {
      const file = this.files[index];
      img = readJpegRgb(file);
      if (img.width !== 64 || img.height !== 64)
        throw new DataFormatError(file, `expected a 64×64 image, decoded ${img.width}×${img.height}`);
      this.cache.set(index, img);
    }
    writeRgb(img, out, offset);
  }
}
