/**
 * `dbp-bench data download`: fetch the official archives, verify size and checksums, extract.
 *
 * Every step is restartable and never leaves a half-written result:
 *   1. each file downloads to `<file>.part`; a rerun resumes it with an HTTP Range request (or
 *      restarts when the server does not honour ranges);
 *   2. the complete `.part` is checked (size, then sha256 and/or md5); a mismatch deletes it;
 *   3. it is fsynced and renamed to `<file>` (atomic);
 *   4. an archive is extracted into a staged directory `<dir>/<top folder>.tmp-…`, its expected
 *      files are checked, and its top folder is renamed into place (atomic); the staged directory
 *      is removed on success and on failure, and one left by a killed process by the next run;
 *   5. `<dir>/<name>.download.json` records URLs, sizes and the computed sha256 of every file.
 * A file already at `<dir>/<file>` (put there by hand) is verified and used without network.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import * as yauzl from 'yauzl';
import {
  DataFormatError,
  DbpError,
  LIMITS,
  LimitExceededError,
  cleanStaleTemporariesIn,
  commitDirectory,
  fsyncDir,
  fsyncFile,
  pidAlive,
  silentLogger,
  stageDirectory,
  writeJsonAtomic,
  type Logger,
} from '@dbp-bench/framework';
import { isDir, isFile } from './util';

/** One file to fetch. */
export interface DownloadFile {
  /** File name in the data directory (and last URL path segment on a mirror). */
  readonly name: string;
  /** Official URLs, tried in order. */
  readonly urls: readonly string[];
  /** Exact size in bytes. */
  readonly size: number;
  /** Known sha256 (lower-case hex); when absent the computed value is only recorded. */
  readonly sha256?: string;
  /** Known md5, checked as well when given. */
  readonly md5?: string;
}

/** An archive to extract after download. */
export interface ArchiveSpec {
  /** Name of the downloaded file that is the archive. */
  readonly file: string;
  readonly format: 'tar.gz' | 'zip';
  /** The single top-level folder the archive creates. */
  readonly topDir: string;
  /** Paths relative to topDir that must exist after extraction. */
  readonly expect: readonly string[];
}

/** What `data download <name>` fetches. */
export interface DownloadSpec {
  readonly name: string;
  readonly description: string;
  readonly files: readonly DownloadFile[];
  readonly archive?: ArchiveSpec;
  /** Where the checksums come from (for the README and the manifest). */
  readonly checksumSource: string;
}

const TORONTO = 'https://www.cs.toronto.edu/~kriz/';
const MNIST_MIRRORS = [
  'https://ossci-datasets.s3.amazonaws.com/mnist/',
  'https://storage.googleapis.com/cvdf-datasets/mnist/',
  'http://yann.lecun.com/exdb/mnist/',
];

/** The built-in downloads. */
export const DOWNLOADS: Readonly<Record<string, DownloadSpec>> = {
  mnist: {
    name: 'mnist',
    description: 'MNIST IDX files (train 60000 + test 10000), gzipped; read with the mnist plugin and dir set to their folder',
    files: [
      {
        name: 'train-images-idx3-ubyte.gz',
        size: 9912422,
        sha256: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
        md5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
      },
      {
        name: 'train-labels-idx1-ubyte.gz',
        size: 28881,
        sha256: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
        md5: 'd53e105ee54ea40749a09fcbcd1e9432',
      },
      {
        name: 't10k-images-idx3-ubyte.gz',
        size: 1648877,
        sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
        md5: '9fb629c4189551a2d022fa330f9573f3',
      },
      {
        name: 't10k-labels-idx1-ubyte.gz',
        size: 4542,
        sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
        md5: 'ec29112dd5afa0611ce80d1b7f02629c',
      },
    ].map((f) => ({ ...f, urls: MNIST_MIRRORS.map((m) => m + f.name) })),
    checksumSource:
      'md5: the official values (torchvision); sha256: the values TFDS and torchvision mirrors record, confirmed by several independent projects',
  },
  cifar10: {
    name: 'cifar10',
    description: 'CIFAR-10 binary version (cifar-10-batches-bin: data_batch_1..5.bin, test_batch.bin)',
    files: [
      {
        name: 'cifar-10-binary.tar.gz',
        urls: [TORONTO + 'cifar-10-binary.tar.gz'],
        size: 170052171,
        sha256: 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd',
        md5: 'c32a1d4ab5d03f1284b67883e8d87530',
      },
    ],
    archive: {
      file: 'cifar-10-binary.tar.gz',
      format: 'tar.gz',
      topDir: 'cifar-10-batches-bin',
      expect: [
        'data_batch_1.bin',
        'data_batch_2.bin',
        'data_batch_3.bin',
        'data_batch_4.bin',
        'data_batch_5.bin',
        'test_batch.bin',
        'batches.meta.txt',
      ],
    },
    checksumSource: 'md5: published on the CIFAR page; sha256: as recorded by TFDS and several independent projects',
  },
  cifar100: {
    name: 'cifar100',
    description: 'CIFAR-100 binary version (cifar-100-binary: train.bin, test.bin, label names)',
    files: [
      {
        name: 'cifar-100-binary.tar.gz',
        urls: [TORONTO + 'cifar-100-binary.tar.gz'],
        size: 168513733,
        sha256: '58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec',
        md5: '03b5dce01913d631647c71ecec9e9cb8',
      },
    ],
    archive: {
      file: 'cifar-100-binary.tar.gz',
      format: 'tar.gz',
      topDir: 'cifar-100-binary',
      expect: ['train.bin', 'test.bin', 'fine_label_names.txt', 'coarse_label_names.txt'],
    },
    checksumSource: 'md5: published on the CIFAR page; sha256: as recorded by TFDS and several independent projects',
  },
  'tiny-imagenet': {
    name: 'tiny-imagenet',
    description: 'Tiny-ImageNet-200 (train 100000, val 10000, test 10000 unlabelled), 64x64 JPEGs',
    files: [
      {
        name: 'tiny-imagenet-200.zip',
        urls: ['http://cs231n.stanford.edu/tiny-imagenet-200.zip'],
        size: 248100043,
        md5: '90528d7ca1a48142e341f4ef8d21d0de',
      },
    ],
    archive: {
      file: 'tiny-imagenet-200.zip',
      format: 'zip',
      topDir: 'tiny-imagenet-200',
      expect: ['wnids.txt', 'words.txt', 'val/val_annotations.txt', 'train/n01443537/images/n01443537_0.JPEG', 'val/images/val_0.JPEG'],
    },
    checksumSource:
      'size and md5 as used by torchvision-style loaders (no official sha256 is published; the computed sha256 is recorded in the manifest, not verified)',
  },
};

export interface DownloadOptions {
  /** Data directory: files land in `dir`, archives are extracted into `dir/<topDir>`. */
  dir: string;
  /** Base URL replacing the official ones (`<mirror>/<file name>`); default env DBP_DATA_MIRROR. */
  mirror?: string;
  logger?: Logger;
  /** Extra attempts after a connection lost mid-file (each resumes). Default 3. */
  retries?: number;
  /** Socket idle timeout in ms. Default 30000. */
  timeoutMs?: number;
  /** Delete the archive after a successful extraction. Default false. */
  removeArchive?: boolean;
}

export interface DownloadedFile {
  name: string;
  url?: string;
  size: number;
  sha256: string;
  md5: string;
  /** What was checked against known values. */
  verified: string[];
  /** `downloaded`, `resumed`, or `present` (already in dir). */
  how: 'downloaded' | 'resumed' | 'present';
}

export interface DownloadResult {
  name: string;
  dir: string;
  files: DownloadedFile[];
  /** Extracted folder, when the dataset is an archive. */
  extracted?: string;
  /** True when everything was already in place. */
  alreadyPresent: boolean;
  manifest: string;
}

/** A network failure (no connection, connection lost, timeout, HTTP error status). */
export class NetworkError extends DbpError {
  constructor(
    message: string,
    /** True when the server answered and bytes arrived before the failure (a resume may help). */
    readonly midTransfer: boolean,
    options?: { cause?: unknown },
  ) {
    super('E_NETWORK', message, options);
  }
}

function expectedPaths(dir: string, spec: DownloadSpec): string[] {
  if (spec.archive) return spec.archive.expect.map((e) => path.join(dir, spec.archive!.topDir, e));
  return spec.files.map((f) => path.join(dir, f.name));
}

/** Where to put the files by hand, for error messages. */
export function manualHint(spec: DownloadSpec, dir: string): string {
  const files = spec.files
    .map(
      (f) =>
        `  ${f.urls[0]} (${f.size} bytes${f.sha256 ? `, sha256 ${f.sha256}` : f.md5 ? `, md5 ${f.md5}` : ''}) -> ${path.join(dir, f.name)}`,
    )
    .join('\n');
  const extract = spec.archive
    ? `\nor extract it yourself so that ${path.join(dir, spec.archive.topDir, spec.archive.expect[0])} exists.`
    : '';
  return `To install ${spec.name} by hand, download\n${files}\nand rerun 'dbp-bench data download ${spec.name} --dir ${dir}' (it verifies${spec.archive ? ' and extracts' : ''} local files without network)${extract}`;
}

function mirrorUrl(mirror: string, name: string): string {
  return `${mirror.replace(/\/+$/, '')}/${name}`;
}

/** sha256 and md5 of a file in one pass. */
export async function hashFile(file: string): Promise<{ sha256: string; md5: string; size: number }> {
  const s = createHash('sha256');
  const m = createHash('md5');
  let size = 0;
  for await (const chunk of fs.createReadStream(file)) {
    s.update(chunk as Buffer);
    m.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: s.digest('hex'), md5: m.digest('hex'), size };
}

/** Check a complete file against the spec; returns its hashes and what was verified. */
async function verify(file: string, f: DownloadFile, label: string): Promise<{ sha256: string; md5: string; verified: string[] }> {
  const size = fs.statSync(file).size;
  if (size !== f.size) throw new DataFormatError(label, `size is ${size} bytes, expected ${f.size}`);
  const h = await hashFile(file);
  const verified = ['size'];
  if (f.sha256) {
    if (h.sha256 !== f.sha256.toLowerCase())
      throw new DataFormatError(label, `sha256 is ${h.sha256}, expected ${f.sha256} (size ${size} bytes matches): the file is corrupted`);
    verified.push('sha256');
  }
  if (f.md5) {
    if (h.md5 !== f.md5.toLowerCase())
      throw new DataFormatError(label, `md5 is ${h.md5}, expected ${f.md5} (size ${size} bytes matches): the file is corrupted`);
    verified.push('md5');
  }
  return { sha256: h.sha256, md5: h.md5, verified };
}

/**
 * One attempt: fetch `url` into `part`, resuming from its current size. Resolves with whether it
 * resumed; rejects with NetworkError (connect failure, HTTP error, connection lost mid-file).
 */
function fetchToPart(
  url: string,
  part: string,
  expectedSize: number,
  timeoutMs: number,
  logger: Logger,
  redirects = 0,
): Promise<{ resumed: boolean }> {
  return new Promise((resolve, reject) => {
    let have = isFile(part) ? fs.statSync(part).size : 0;
    if (have > expectedSize) {
      fs.rmSync(part, { force: true });
      have = 0;
    }
    if (have === expectedSize) return resolve({ resumed: true });
    let u: URL;
    try {
      u = new URL(url);
    } catch (cause) {
      return reject(new DbpError('E_CONFIG', `not a valid URL: ${url}`, { cause }));
    }
    const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
    if (!mod) return reject(new DbpError('E_CONFIG', `unsupported URL scheme in ${url} (expected http or https)`));
    const headers: Record<string, string> = { 'user-agent': 'dbp-bench-data-download' };
    if (have > 0) headers.range = `bytes=${have}-`;
    let gotResponse = false;
    const req = mod.get(u, { headers }, (res) => {
      gotResponse = true;
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        res.resume();
        if (redirects >= 5) return reject(new NetworkError(`${url}: too many redirects`, false));
        const next = new URL(res.headers.location, u).toString();
        fetchToPart(next, part, expectedSize, timeoutMs, logger, redirects + 1).then(resolve, reject);
        return;
      }
      if (status === 416) {
        // our range is unusable: restart from zero
        res.resume();
        fs.rmSync(part, { force: true });
        fetchToPart(url, part, expectedSize, timeoutMs, logger, redirects).then(resolve, reject);
        return;
      }
      let flags: 'w' | 'a' = 'w';
      let start = 0;
      if (status === 206 && have > 0) {
        const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
        if (m && Number(m[1]) === have) {
          flags = 'a';
          start = have;
        } else {
          res.resume();
          fs.rmSync(part, { force: true });
          fetchToPart(url, part, expectedSize, timeoutMs, logger, redirects).then(resolve, reject);
          return;
        }
      } else if (status !== 200) {
        res.resume();
        return reject(new NetworkError(`${url}: HTTP ${status} ${res.statusMessage ?? ''}`.trim(), false));
      }
      const len = Number(res.headers['content-length']);
      if (Number.isFinite(len) && res.headers['content-length'] !== undefined && start + len !== expectedSize) {
        res.resume();
        return reject(
          new DataFormatError(
            url,
            `the server sends ${start + len} bytes, expected ${expectedSize}; this is not the expected file (wrong URL or mirror?)`,
          ),
        );
      }
      const progress = logger.progress(path.basename(part, '.part'), expectedSize, start);
      let received = start;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        progress.tick(chunk.length);
      });
      const ws = fs.createWriteStream(part, { flags });
      pipeline(res, ws).then(
        () => {
          progress.done();
          if (!res.complete || received !== expectedSize) {
            return reject(new NetworkError(`${url}: connection closed after ${received} of ${expectedSize} bytes`, true));
          }
          resolve({ resumed: start > 0 });
        },
        (cause: NodeJS.ErrnoException) => {
          progress.done();
          reject(
            new NetworkError(
              `${url}: connection lost after ${received} of ${expectedSize} bytes (${cause.code ?? cause.message}); the partial download is kept in ${part} and a rerun resumes it`,
              true,
              { cause },
            ),
          );
        },
      );
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no data for ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (cause: NodeJS.ErrnoException) => {
      if (gotResponse) return; // handled by the pipeline
      reject(new NetworkError(`${url}: ${cause.code ?? ''} ${cause.message}`.trim(), false, { cause }));
    });
  });
}

async function obtainFile(
  f: DownloadFile,
  dir: string,
  opts: Required<Pick<DownloadOptions, 'retries' | 'timeoutMs'>> & { mirror?: string; logger: Logger },
  spec: DownloadSpec,
): Promise<DownloadedFile> {
  const final = path.join(dir, f.name);
  if (isFile(final)) {
    const v = await verify(final, f, final).catch((e: unknown) => {
      if (e instanceof DataFormatError) {
        throw new DataFormatError(
          final,
          `${e.message.slice(final.length + 2)}. This file was not written by a verified download; delete it and rerun`,
          { cause: e },
        );
      }
      throw e;
    });
    return { name: f.name, size: f.size, ...v, how: 'present' };
  }
  const part = `${final}.part`;
  const urls = opts.mirror ? [mirrorUrl(opts.mirror, f.name)] : f.urls;
  const failures: string[] = [];
  for (const url of urls) {
    for (let attempt = 0; attempt <= opts.retries; attempt++) {
      let resumed: boolean;
      try {
        opts.logger.info(`${attempt ? `retry ${attempt}: ` : ''}${isFile(part) ? 'resuming' : 'downloading'} ${url}`);
        ({ resumed } = await fetchToPart(url, part, f.size, opts.timeoutMs, opts.logger));
      } catch (e) {
        if (e instanceof NetworkError) {
          failures.push(e.message);
          opts.logger.warn(e.message);
          if (e.midTransfer) continue; // resume on the next attempt
          break; // no connection / HTTP error: next URL
        }
        throw e;
      }
      let v: { sha256: string; md5: string; verified: string[] };
      try {
        v = await verify(part, f, url);
      } catch (e) {
        fs.rmSync(part, { force: true });
        if (e instanceof DataFormatError) {
          throw new DataFormatError(
            url,
            `${e.message.slice(url.length + 2)}. The download was deleted; nothing was written to ${final}. Rerun to download again, or check the mirror`,
            { cause: e },
          );
        }
        throw e;
      }
      fsyncFile(part);
      fs.renameSync(part, final);
      fsyncDir(dir);
      return { name: f.name, url, size: f.size, ...v, how: resumed ? 'resumed' : 'downloaded' };
    }
  }
  throw new NetworkError(
    `cannot download ${f.name} for ${spec.name}:\n  - ${failures.join('\n  - ')}\n${isFile(part) ? `(the partial download ${part} is kept; a rerun resumes it)\n` : ''}${manualHint(spec, dir)}`,
    false,
  );
}

/**
 * Counts the entries and bytes an extraction writes against LIMITS.archiveEntries and
 * max(LIMITS.inflateMinBytes, LIMITS.archiveRatio x the archive's size); `add` returns an error naming the archive and the entry
 * at which a limit was passed.
 */
function extractionBudget(file: string): { add(name: string, bytes: number): LimitExceededError | undefined } {
  const maxBytes = Math.max(LIMITS.inflateMinBytes, LIMITS.archiveRatio * fs.statSync(file).size);
  let entries = 0;
  let bytes = 0;
  return {
    add(name, n) {
      entries++;
      bytes += n;
      if (entries > LIMITS.archiveEntries)
        return new LimitExceededError(file, `the archive has more than ${LIMITS.archiveEntries} entries (at '${name}'); refused`);
      if (bytes > maxBytes)
        return new LimitExceededError(
          file,
          `the archive extracts to more than ${maxBytes} bytes (${LIMITS.archiveRatio}x its size, at least ${LIMITS.inflateMinBytes}; at '${name}'); refused as a decompression bomb`,
        );
      return undefined;
    },
  };
}

async function extractTarGz(file: string, dest: string): Promise<void> {
  const budget = extractionBudget(file);
  let refused: LimitExceededError | undefined;
  const rs = fs.createReadStream(file);
  const x = tar.x({
    cwd: dest,
    strict: true,
    // Sizes come from each entry's header, so a bomb is refused before its data is inflated.
    filter: (name: string, entry: unknown) => {
      if (refused) return false;
      refused = budget.add(name, Number((entry as { size?: number }).size ?? 0));
      if (refused) rs.destroy(refused);
      return !refused;
    },
  });
  try {
    await pipeline(rs, x);
  } catch (cause) {
    if (refused) throw refused;
    throw new DataFormatError(file, `cannot extract the tar.gz archive: ${(cause as Error).message}`, { cause });
  }
}

function extractZip(file: string, dest: string): Promise<void> {
  const budget = extractionBudget(file);
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: true, strictFileNames: false, validateEntrySizes: true }, (err, zip) => {
      if (err || !zip) return reject(new DataFormatError(file, `cannot read the zip archive: ${err?.message}`, { cause: err }));
      zip.on('error', (e: Error) => reject(new DataFormatError(file, `corrupted zip archive: ${e.message}`, { cause: e })));
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        const over = budget.add(entry.fileName, entry.uncompressedSize);
        if (over) {
          zip.close();
          return reject(over);
        }
        const name = entry.fileName.replace(/\\/g, '/');
        const target = path.resolve(dest, name);
        if (!target.startsWith(path.resolve(dest) + path.sep)) {
          zip.close();
          return reject(new DataFormatError(file, `entry '${entry.fileName}' would be written outside the extraction folder`));
        }
        if (name.endsWith('/')) {
          fs.mkdirSync(target, { recursive: true });
          zip.readEntry();
          return;
        }
        fs.mkdirSync(path.dirname(target), { recursive: true });
        zip.openReadStream(entry, (e2, rs) => {
          if (e2 || !rs) return reject(new DataFormatError(file, `cannot read entry '${entry.fileName}': ${e2?.message}`, { cause: e2 }));
          pipeline(rs, fs.createWriteStream(target)).then(
            () => zip.readEntry(),
            (e3: Error) => reject(new DataFormatError(file, `cannot extract entry '${entry.fileName}': ${e3.message}`, { cause: e3 })),
          );
        });
      });
      zip.readEntry();
    });
  });
}

/**
 * Extract `archive` (in `dir`) into `dir/<topDir>` through a temporary folder, under the extraction
 * limits (LIMITS.archiveEntries; max(LIMITS.inflateMinBytes, LIMITS.archiveRatio x the archive size)
 * bytes); the temporary folder is removed whatever happens.
 */
export async function extractArchive(archive: ArchiveSpec, dir: string, logger: Logger = silentLogger): Promise<string> {
  const file = path.join(dir, archive.file);
  const target = path.join(dir, archive.topDir);
  // Extracted into a staged directory next to the target (framework atomic.ts), renamed into place.
  const tmp = stageDirectory(target);
  try {
    logger.info(`extracting ${file}`);
    if (archive.format === 'tar.gz') {
      await extractTarGz(file, tmp);
    } else {
      await extractZip(file, tmp);
    }
    const missing = archive.expect.filter((e) => !fs.existsSync(path.join(tmp, archive.topDir, e)));
    if (missing.length) {
      throw new DataFormatError(
        file,
        `the archive lacks ${missing.map((m) => `${archive.topDir}/${m}`).join(', ')}; expected the official layout`,
      );
    }
    // An existing target is an incomplete earlier copy (a complete one is detected before downloading).
    commitDirectory(path.join(tmp, archive.topDir), target);
    return target;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Download, verify and extract a dataset (a built-in name or a spec). Idempotent: a complete
 * install is detected and left alone; an interrupted one resumes.
 */
export async function downloadDataset(nameOrSpec: string | DownloadSpec, options: DownloadOptions): Promise<DownloadResult> {
  const spec = typeof nameOrSpec === 'string' ? DOWNLOADS[nameOrSpec] : nameOrSpec;
  if (!spec) {
    throw new DbpError(
      'E_UNKNOWN_DATASET',
      `no download for dataset '${typeof nameOrSpec === 'string' ? nameOrSpec : nameOrSpec.name}'. Downloadable: ${Object.keys(DOWNLOADS).join(', ')} (synthetic and image-folder need none)`,
    );
  }
  const logger = options.logger ?? silentLogger;
  const dir = path.resolve(options.dir);
  const mirror = options.mirror ?? (process.env.DBP_DATA_MIRROR || undefined);
  const manifest = path.join(dir, `${spec.name}.download.json`);
  fs.mkdirSync(dir, { recursive: true });
  for (const n of cleanStaleTemp(dir)) logger.info(`removed ${n}, left by an interrupted download`);
  const expected = expectedPaths(dir, spec);
  if (spec.archive && expected.every((p) => fs.existsSync(p))) {
    logger.info(`${spec.name} is already installed in ${path.join(dir, spec.archive.topDir)}`);
    return { name: spec.name, dir, files: [], extracted: path.join(dir, spec.archive.topDir), alreadyPresent: true, manifest };
  }
  const opts = { retries: options.retries ?? 3, timeoutMs: options.timeoutMs ?? 30000, mirror, logger };
  const files: DownloadedFile[] = [];
  for (const f of spec.files) files.push(await obtainFile(f, dir, opts, spec));
  let extracted: string | undefined;
  if (spec.archive) {
    extracted = await extractArchive(spec.archive, dir, logger);
    if (options.removeArchive) fs.rmSync(path.join(dir, spec.archive.file), { force: true });
  }
  writeJsonAtomic(manifest, {
    dataset: spec.name,
    description: spec.description,
    checksumSource: spec.checksumSource,
    files: files.map((f) => ({
      name: f.name,
      url: f.url ?? null,
      size: f.size,
      sha256: f.sha256,
      md5: f.md5,
      verified: f.verified,
      how: f.how,
    })),
    extracted: extracted ? path.relative(dir, extracted) : null,
    archiveRemoved: Boolean(spec.archive && options.removeArchive),
    date: new Date().toISOString(),
  });
  const alreadyPresent = files.every((f) => f.how === 'present') && !spec.archive;
  return { name: spec.name, dir, files, extracted, alreadyPresent, manifest };
}

/**
 * Remove what a killed download process left in `dir`: stale temporaries of atomic writes (staged
 * extractions `<top folder>.tmp-…`, the manifest's; framework atomic.ts) and the `.extract-*` /
 * `.old-*` folders of older versions (their names carry the pid; those of live processes are left
 * alone). `.part` files are kept: a rerun resumes them. Returns the removed names.
 */
export function cleanStaleTemp(dir: string): string[] {
  if (!isDir(dir)) return [];
  const removed = cleanStaleTemporariesIn(dir);
  for (const n of fs.readdirSync(dir)) {
    const m = /^\.(?:extract|old)-.*-(\d+)-[0-9a-f]{8}$/.exec(n);
    if (m && !pidAlive(Number(m[1]))) {
      fs.rmSync(path.join(dir, n), { recursive: true, force: true });
      removed.push(n);
    }
  }
  return removed;
}
