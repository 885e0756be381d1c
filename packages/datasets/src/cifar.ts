/**
 * CIFAR-10 and CIFAR-100 in the official binary format (`cifar-10-batches-bin`, `cifar-100-binary`).
 *
 * CIFAR-10 record (3073 bytes): 1 label byte (0..9), then 1024 R, 1024 G, 1024 B bytes, each plane a
 * 32×32 array stored row by row. CIFAR-100 record (3074 bytes): 1 coarse label byte (0..19), 1 fine
 * label byte (0..99), then the same 3072 pixel bytes. The number of records is taken from the file
 * size, so partial files with the first N records (of the official order) work unchanged.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataFormatError, MissingFileError, type DatasetInfo, type Logger, type OptionsOf } from '@dbp-bench/framework';
import type cifar10 from './dataset/cifar10';
import type cifar100 from './dataset/cifar100';
import { ArrayBackedDataset, checkIndices, findDataDir, isFile, readFileOnce, readLines, U8_TO_UNIT } from './util';

export const CIFAR10_CLASSES: readonly string[] = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

/** CIFAR-100 fine label names, index = fine label byte (the order of `fine_label_names.txt`). */
export const CIFAR100_FINE_CLASSES: readonly string[] = [
  'apple',
  'aquarium_fish',
  'baby',
  'bear',
  'beaver',
  'bed',
  'bee',
  'beetle',
  'bicycle',
  'bottle',
  'bowl',
  'boy',
  'bridge',
  'bus',
  'butterfly',
  'camel',
  'can',
  'castle',
  'caterpillar',
  'cattle',
  'chair',
  'chimpanzee',
  'clock',
  'cloud',
  'cockroach',
  'couch',
  'crab',
  'crocodile',
  'cup',
  'dinosaur',
  'dolphin',
  'elephant',
  'flatfish',
  'forest',
  'fox',
  'girl',
  'hamster',
  'house',
  'kangaroo',
  'keyboard',
  'lamp',
  'lawn_mower',
  'leopard',
  'lion',
  'lizard',
  'lobster',
  'man',
  'maple_tree',
  'motorcycle',
  'mountain',
  'mouse',
  'mushroom',
  'oak_tree',
  'orange',
  'orchid',
  'otter',
  'palm_tree',
  'pear',
  'pickup_truck',
  'pine_tree',
  'plain',
  'plate',
  'poppy',
  'porcupine',
  'possum',
  'rabbit',
  'raccoon',
  'ray',
  'road',
  'rocket',
  'rose',
  'sea',
  'seal',
  'shark',
  'shrew',
  'skunk',
  'skyscraper',
  'snail',
  'snake',
  'spider',
  'squirrel',
  'streetcar',
  'sunflower',
  'sweet_pepper',
  'table',
  'tank',
  'telephone',
  'television',
  'tiger',
  'tractor',
  'train',
  'trout',
  'tulip',
  'turtle',
  'wardrobe',
  'whale',
  'willow_tree',
  'wolf',
  'woman',
  'worm',
];

/** CIFAR-100 coarse (superclass) names, index = coarse label byte. */
export const CIFAR100_COARSE_CLASSES: readonly string[] = [
  'aquatic_mammals',
  'fish',
  'flowers',
  'food_containers',
  'fruit_and_vegetables',
  'household_electrical_devices',
  'household_furniture',
  'insects',
  'large_carnivores',
  'large_man-made_outdoor_things',
  'large_natural_outdoor_scenes',
  'large_omnivores_and_herbivores',
  'medium_mammals',
  'non-insect_invertebrates',
  'people',
  'reptiles',
  'small_mammals',
  'trees',
  'vehicles_1',
  'vehicles_2',
];

const PLANE = 1024;

export type CifarVariant = 'cifar10' | 'cifar100';

interface VariantSpec {
  /** Bytes per record. */
  recordSize: number;
  /** Number of label bytes at the start of a record. */
  labelBytes: number;
  /** For each label byte: its name and the number of classes (valid values 0..n-1). */
  labelFields: { name: string; classes: number }[];
  /** Directory name inside the official archive. */
  officialDir: string;
  /** Files of each split. */
  files: Record<'train' | 'test', string[]>;
  /** Records per file in the official release. */
  officialRecords: Record<string, number>;
}

export const CIFAR_SPECS: Record<CifarVariant, VariantSpec> = {
  cifar10: {
    recordSize: 3073,
    labelBytes: 1,
    labelFields: [{ name: 'label', classes: 10 }],
    officialDir: 'cifar-10-batches-bin',
    files: {
      train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
      test: ['test_batch.bin'],
    },
    officialRecords: {
      'data_batch_1.bin': 10000,
      'data_batch_2.bin': 10000,
      'data_batch_3.bin': 10000,
      'data_batch_4.bin': 10000,
      'data_batch_5.bin': 10000,
      'test_batch.bin': 10000,
    },
  },
  cifar100: {
    recordSize: 3074,
    labelBytes: 2,
    labelFields: [
      { name: 'coarse label', classes: 20 },
      { name: 'fine label', classes: 100 },
    ],
    officialDir: 'cifar-100-binary',
    files: { train: ['train.bin'], test: ['test.bin'] },
    officialRecords: { 'train.bin': 50000, 'test.bin': 10000 },
  },
};

/** One parsed binary file: its bytes and record count, labels validated. */
export interface CifarFile {
  readonly file: string;
  readonly data: Buffer;
  readonly records: number;
}

const parsed = new WeakMap<Buffer, CifarFile>();

/**
 * Read and validate one CIFAR binary file: the size must be a positive whole number of records and
 * every label byte must be in range. Throws DataFormatError naming the file, the record size and
 * what was found.
 */
export function readCifarFile(file: string, variant: CifarVariant): CifarFile {
  const spec = CIFAR_SPECS[variant];
  const data = readFileOnce(file, `a ${variant} binary file (${spec.recordSize}-byte records)`);
  const hit = parsed.get(data);
  if (hit && hit.file === file) return hit;
  const rs = spec.recordSize;
  if (data.length === 0) {
    throw new DataFormatError(file, `the file is empty; expected a whole number of ${rs}-byte ${variant} records`);
  }
  if (data.length % rs !== 0) {
    const whole = Math.floor(data.length / rs);
    throw new DataFormatError(
      file,
      `size ${data.length} bytes is not a whole number of ${rs}-byte ${variant} records ` +
        `(${whole} whole records and ${data.length - whole * rs} bytes left over); the file is truncated or not in the ${variant} binary format`,
    );
  }
  const records = data.length / rs;
  for (let r = 0; r < records; r++) {
    for (let b = 0; b < spec.labelBytes; b++) {
      const v = data[r * rs + b];
      const f = spec.labelFields[b];
      if (v >= f.classes) {
        throw new DataFormatError(
          file,
          `record ${r} (byte offset ${r * rs + b}): ${f.name} byte is ${v}, expected 0..${f.classes - 1} ` +
            `(${rs}-byte records); the file is corrupted or not in the ${variant} binary format`,
        );
      }
    }
  }
  const out: CifarFile = { file, data, records };
  parsed.set(data, out);
  return out;
}

/**
 * Find the directory holding the split's files: `dir` itself when it contains them, else
 * `dir/<official dir name>` (`cifar-10-batches-bin`, `cifar-100-binary`).
 */
export function resolveCifarDir(dir: string, variant: CifarVariant, split: 'train' | 'test'): string {
  const spec = CIFAR_SPECS[variant];
  return findDataDir(
    [dir, path.join(dir, spec.officialDir)],
    spec.files[split][0],
    `Download with 'dbp-bench data download ${variant} --dir ${dir}', or put the files of the official ` +
      `${variant === 'cifar10' ? 'cifar-10-binary.tar.gz' : 'cifar-100-binary.tar.gz'} (the ${spec.officialDir}/ folder) there by hand.`,
  );
}

function namesFile(file: string, expected: number, fallback: readonly string[]): readonly string[] {
  if (!isFile(file)) return fallback;
  const names = readLines(file);
  if (names.length !== expected) {
    throw new DataFormatError(file, `expected ${expected} class names (one per line), found ${names.length}`);
  }
  return names;
}

/**
 * The options of the `cifar10` / `cifar100` plugins: `dir` holds the .bin files, or is the parent of
 * the official folder; `labels` (CIFAR-100 only, `cifar100`'s default when absent) which label the
 * dataset returns.
 */
export type CifarOptions = OptionsOf<typeof cifar10.schema> & Partial<Pick<OptionsOf<typeof cifar100.schema>, 'labels'>>;

/**
 * A CIFAR-10 or CIFAR-100 split read from the official binary files. Images are 32×32×3 in [0,1];
 * index i is record i of the split's files in order (train: data_batch_1 .. data_batch_5).
 */
export class CifarDataset extends ArrayBackedDataset {
  /** The parsed files of the split, in order. */
  readonly files: readonly CifarFile[];
  /** The directory the files were read from. */
  readonly dir: string;
  private readonly starts: number[];
  private readonly fine?: Int32Array;
  private readonly coarse?: Int32Array;

  constructor(
    readonly variant: CifarVariant,
    options: CifarOptions,
    logger?: Logger,
  ) {
    const spec = CIFAR_SPECS[variant];
    const dir = resolveCifarDir(options.dir, variant, options.split);
    const files = spec.files[options.split].map((name) => {
      const file = path.join(dir, name);
      if (!fs.existsSync(file)) {
        throw new MissingFileError(
          file,
          `the ${options.split} split of ${variant} needs ${spec.files[options.split].join(', ')} in ${dir}`,
        );
      }
      return readCifarFile(file, variant);
    });
    for (const f of files) {
      const official = spec.officialRecords[path.basename(f.file)];
      if (official !== undefined && f.records !== official) {
        logger?.warn(
          `${f.file} holds ${f.records} records (the official file has ${official}): a partial copy, records are the first ${f.records} in official order`,
        );
      }
    }
    const starts: number[] = [];
    let total = 0;
    for (const f of files) {
      starts.push(total);
      total += f.records;
    }
    const rs = spec.recordSize;
    const primary = new Int32Array(total);
    let fine: Int32Array | undefined;
    let coarse: Int32Array | undefined;
    if (variant === 'cifar100') {
      fine = new Int32Array(total);
      coarse = new Int32Array(total);
    }
    files.forEach((f, k) => {
      for (let r = 0; r < f.records; r++) {
        const i = starts[k] + r;
        if (variant === 'cifar10') primary[i] = f.data[r * rs];
        else {
          coarse![i] = f.data[r * rs];
          fine![i] = f.data[r * rs + 1];
        }
      }
    });
    const useCoarse = variant === 'cifar100' && options.labels === 'coarse';
    const labels = variant === 'cifar10' ? primary : useCoarse ? coarse! : fine!;
    const classNames =
      variant === 'cifar10'
        ? namesFile(path.join(dir, 'batches.meta.txt'), 10, CIFAR10_CLASSES)
        : useCoarse
          ? namesFile(path.join(dir, 'coarse_label_names.txt'), 20, CIFAR100_COARSE_CLASSES)
          : namesFile(path.join(dir, 'fine_label_names.txt'), 100, CIFAR100_FINE_CLASSES);
    const info: DatasetInfo = {
      id: variant,
      split: options.split,
      size: total,
      shape: [32, 32, 3],
      numClasses: classNames.length,
      classNames,
      source: files.map((f) => f.file).join(', '),
    };
    super(info, labels);
    this.files = files;
    this.dir = dir;
    this.starts = starts;
    this.fine = fine;
    this.coarse = coarse;
  }

  /** File and record number of dataset index `index`. */
  locate(index: number): { file: CifarFile; record: number } {
    let k = this.starts.length - 1;
    while (k > 0 && this.starts[k] > index) k--;
    return { file: this.files[k], record: index - this.starts[k] };
  }

  protected writeImage(index: number, out: Float32Array, offset: number): void {
    const { file, record } = this.locate(index);
    const spec = CIFAR_SPECS[this.variant];
    const base = record * spec.recordSize + spec.labelBytes;
    const src = file.data;
    // CHW planes -> HWC
    for (let p = 0; p < PLANE; p++) {
      const o = offset + p * 3;
      out[o] = U8_TO_UNIT[src[base + p]];
      out[o + 1] = U8_TO_UNIT[src[base + PLANE + p]];
      out[o + 2] = U8_TO_UNIT[src[base + 2 * PLANE + p]];
    }
  }

  /** CIFAR-100 fine labels (0..99) of the given indices. */
  async fineLabels(indices: readonly number[]): Promise<Int32Array> {
    return this.pick(this.fine, indices, 'fine');
  }

  /** CIFAR-100 coarse labels (0..19) of the given indices. */
  async coarseLabels(indices: readonly number[]): Promise<Int32Array> {
    return this.pick(this.coarse, indices, 'coarse');
  }

  private async pick(src: Int32Array | undefined, indices: readonly number[], what: string): Promise<Int32Array> {
    if (!src) throw new DataFormatError(this.info.source, `${what} labels exist only for cifar100`);
    checkIndices(this.info, indices);
    return Int32Array.from(indices, (i) => src[i]);
  }
}
