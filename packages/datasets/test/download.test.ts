import { expect } from 'chai';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as tar from 'tar';
import { DataFormatError } from '@dbp-bench/framework';
import { DOWNLOADS, downloadDataset, hashFile, manualHint, NetworkError, openDataset, type DownloadSpec } from '../src';
import { requireShared, tempDir } from './helpers';

const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
/** CRC-32 (zip / gzip polynomial). */
function crc32(buf: Buffer): number {
  let c = -1;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** A minimal zip writer (stored entries) for test archives. */
function storedZip(entries: { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(e.data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(e.data.length, 18);
    lh.writeUInt32LE(e.data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    locals.push(lh, name, e.data);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(e.data.length, 20);
    ch.writeUInt32LE(e.data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    centrals.push(ch, name);
    offset += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

type Mode = 'ok' | 'cut' | 'corrupt' | 'no-range';

/** Loopback server for one file; records the Range headers it saw. Closes itself after 60 s at the latest. */
async function serve(
  files: Record<string, Buffer>,
): Promise<{ url: string; mode: { value: Mode }; ranges: (string | undefined)[]; close: () => Promise<void> }> {
  const mode = { value: 'ok' as Mode };
  const ranges: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').slice(1));
    const body = files[name];
    ranges.push(req.headers.range);
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    if (mode.value === 'corrupt') {
      const bad = Buffer.from(body);
      bad[bad.length >> 1] ^= 0xff;
      res.writeHead(200, { 'content-length': bad.length }).end(bad);
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && mode.value !== 'no-range') {
      const start = Number(m[1]);
      res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
      res.end(body.subarray(start));
      return;
    }
    res.writeHead(200, { 'content-length': body.length });
    if (mode.value === 'cut') {
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => req.socket.destroy(), 20));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const timer = setTimeout(() => server.close(), 60000);
  timer.unref();
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    mode,
    ranges,
    close: () =>
      new Promise<void>((resolve) => {
        clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function listAll(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) walk(path.join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

describe('data download (loopback server)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let srv: Awaited<ReturnType<typeof serve>>;
  let cifarSpec: DownloadSpec;
  let tinySpec: DownloadSpec;
  let cifarTgz: Buffer;

  before(async () => {
    tmp = tempDir();
    // a small archive with the official cifar-10-binary layout: 3 records per file
    const src = path.join(tmp.dir, 'src');
    const top = path.join(src, 'cifar-10-batches-bin');
    fs.mkdirSync(top, { recursive: true });
    const rec = (n: number, seed: number): Buffer => {
      const b = Buffer.alloc(n * 3073);
      for (let i = 0; i < b.length; i++) b[i] = (i * 31 + seed) % 251;
      for (let r = 0; r < n; r++) b[r * 3073] = (r + seed) % 10;
      return b;
    };
    for (let k = 1; k <= 5; k++) fs.writeFileSync(path.join(top, `data_batch_${k}.bin`), rec(3, k));
    fs.writeFileSync(path.join(top, 'test_batch.bin'), rec(4, 0));
    fs.writeFileSync(path.join(top, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
    // pad with incompressible bytes so the archive is large enough to be cut mid-transfer
    fs.writeFileSync(path.join(top, 'readme.html'), Buffer.from(Array.from({ length: 200000 }, (_, i) => (i * 2654435761) >>> 24)));
    const tgzFile = path.join(tmp.dir, 'cifar-10-binary.tar.gz');
    await tar.c({ gzip: true, file: tgzFile, cwd: src }, ['cifar-10-batches-bin']);
    cifarTgz = fs.readFileSync(tgzFile);
    const h = await hashFile(tgzFile);
    cifarSpec = {
      ...DOWNLOADS.cifar10,
      files: [{ name: 'cifar-10-binary.tar.gz', urls: DOWNLOADS.cifar10.files[0].urls, size: cifarTgz.length, sha256: h.sha256 }],
    };
    const zip = storedZip([
      { name: 'tiny-imagenet-200/', data: Buffer.alloc(0) },
      { name: 'tiny-imagenet-200/wnids.txt', data: Buffer.from('n02\nn01\n') },
      { name: 'tiny-imagenet-200/words.txt', data: Buffer.from('n01\tone\nn02\ttwo\n') },
      {
        name: 'tiny-imagenet-200/val/val_annotations.txt',
        data: Buffer.from('val_0.JPEG\tn02\t0\t0\t1\t1\nval_1.JPEG\tn01\t0\t0\t1\t1\n'),
      },
      { name: 'tiny-imagenet-200/val/images/val_0.JPEG', data: Buffer.from([0xff, 0xd8, 0xff, 0xd9]) },
      { name: 'tiny-imagenet-200/val/images/val_1.JPEG', data: Buffer.from([0xff, 0xd8, 0xff, 0xd9]) },
    ]);
    const zh = await hashFile((fs.writeFileSync(path.join(tmp.dir, 't.zip'), zip), path.join(tmp.dir, 't.zip')));
    tinySpec = {
      ...DOWNLOADS['tiny-imagenet'],
      files: [{ name: 'tiny-imagenet-200.zip', urls: ['http://127.0.0.1:9/none'], size: zip.length, md5: zh.md5 }],
      archive: { ...DOWNLOADS['tiny-imagenet'].archive!, expect: ['wnids.txt', 'val/val_annotations.txt', 'val/images/val_1.JPEG'] },
    };
    srv = await serve({ 'cifar-10-binary.tar.gz': cifarTgz, 'tiny-imagenet-200.zip': zip });
  });
  after(async () => {
    await srv?.close();
    tmp.cleanup();
  });

  it('downloads, verifies and extracts from a mirror; a rerun is a no-op; the dataset opens', async () => {
    const dir = path.join(tmp.dir, 'ok');
    srv.mode.value = 'ok';
    const r = await downloadDataset(cifarSpec, { dir, mirror: srv.url, retries: 0 });
    expect(r.files[0]).to.deep.include({ how: 'downloaded', verified: ['size', 'sha256'], url: `${srv.url}/cifar-10-binary.tar.gz` });
    expect(listAll(dir)).to.include.members(['cifar-10-batches-bin/test_batch.bin', 'cifar-10-binary.tar.gz', 'cifar10.download.json']);
    expect(listAll(dir).filter((n) => n.startsWith('.') || n.endsWith('.part'))).to.deep.equal([]);
    const manifest = JSON.parse(fs.readFileSync(r.manifest, 'utf8'));
    expect(manifest.files[0].sha256).to.equal(cifarSpec.files[0].sha256);
    const again = await downloadDataset(cifarSpec, { dir, mirror: 'http://127.0.0.1:9', retries: 0 });
    expect(again.alreadyPresent).to.equal(true);
    const ds = await openDataset('cifar10', { dir, split: 'train' });
    expect(ds.info.size).to.equal(15);
  });

  it('DBP_DATA_MIRROR overrides the base URL; a zip archive (tiny-imagenet layout) extracts', async () => {
    const dir = path.join(tmp.dir, 'zip');
    const prev = process.env.DBP_DATA_MIRROR;
    process.env.DBP_DATA_MIRROR = srv.url + '/';
    try {
      const r = await downloadDataset(tinySpec, { dir, retries: 0 });
      expect(r.files[0].verified).to.deep.equal(['size', 'md5']);
      expect(r.files[0].sha256).to.match(/^[0-9a-f]{64}$/);
    } finally {
      if (prev === undefined) delete process.env.DBP_DATA_MIRROR;
      else process.env.DBP_DATA_MIRROR = prev;
    }
    const ds = await openDataset('tiny-imagenet', { dir });
    expect(ds.info.size).to.equal(2);
    expect(Array.from(await ds.labels([0, 1]))).to.deep.equal([1, 0]);
  });

  it('a corrupted archive (wrong sha256) fails clearly and leaves nothing half-written', async () => {
    const dir = path.join(tmp.dir, 'corrupt');
    srv.mode.value = 'corrupt';
    let err: unknown;
    try {
      await downloadDataset(cifarSpec, { dir, mirror: srv.url, retries: 0 });
    } catch (e) {
      err = e;
    } finally {
      srv.mode.value = 'ok';
    }
    expect(err).to.be.instanceOf(DataFormatError);
    const msg = (err as Error).message;
    expect(msg)
      .to.contain(`${srv.url}/cifar-10-binary.tar.gz`)
      .and.contain(`expected ${cifarSpec.files[0].sha256}`)
      .and.contain('nothing was written');
    expect(listAll(dir)).to.deep.equal([]);
  });

  it('an interrupted download leaves only a .part file; a rerun resumes it with a Range request', async () => {
    const dir = path.join(tmp.dir, 'cut');
    srv.mode.value = 'cut';
    let err: unknown;
    try {
      await downloadDataset(cifarSpec, { dir, mirror: srv.url, retries: 0 });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(NetworkError);
    expect((err as Error).message)
      .to.contain('.part')
      .and.contain('by hand');
    expect(listAll(dir)).to.deep.equal(['cifar-10-binary.tar.gz.part']);
    const partSize = fs.statSync(path.join(dir, 'cifar-10-binary.tar.gz.part')).size;
    expect(partSize).to.be.greaterThan(0).and.lessThan(cifarTgz.length);
    srv.mode.value = 'ok';
    srv.ranges.length = 0;
    const r = await downloadDataset(cifarSpec, { dir, mirror: srv.url, retries: 0 });
    expect(srv.ranges).to.deep.equal([`bytes=${partSize}-`]);
    expect(r.files[0].how).to.equal('resumed');
    expect(fs.readFileSync(path.join(dir, 'cifar-10-binary.tar.gz')).equals(cifarTgz)).to.equal(true);
    expect(listAll(dir).filter((n) => n.endsWith('.part') || n.startsWith('.'))).to.deep.equal([]);
  });

  it('restarts from zero when the server ignores Range', async () => {
    const dir = path.join(tmp.dir, 'norange');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'cifar-10-binary.tar.gz.part'), Buffer.from('garbage that is not the archive'));
    srv.mode.value = 'no-range';
    try {
      const r = await downloadDataset(cifarSpec, { dir, mirror: srv.url, retries: 0 });
      expect(r.files[0].how).to.equal('downloaded');
    } finally {
      srv.mode.value = 'ok';
    }
    expect(fs.existsSync(path.join(dir, 'cifar-10-batches-bin', 'data_batch_5.bin'))).to.equal(true);
  });

  it('with retries, a connection lost mid-file is resumed within the same call', async () => {
    const dir = path.join(tmp.dir, 'retry');
    srv.mode.value = 'cut';
    srv.ranges.length = 0;
    try {
      const r = await downloadDataset(cifarSpec, { dir, mirror: srv.url, retries: 1 });
      expect(r.files[0].how).to.equal('resumed');
    } finally {
      srv.mode.value = 'ok';
    }
    expect(srv.ranges).to.have.length(2);
    expect(srv.ranges[0]).to.equal(undefined);
    expect(srv.ranges[1]).to.match(/^bytes=\d+-$/);
    expect(fs.readFileSync(path.join(dir, 'cifar-10-binary.tar.gz')).equals(cifarTgz)).to.equal(true);
  });

  it('without network it fails fast and says where to put the files by hand; a file put there by hand is used offline', async () => {
    const dir = path.join(tmp.dir, 'offline');
    let err: unknown;
    try {
      await downloadDataset(cifarSpec, { dir, mirror: 'http://127.0.0.1:9', retries: 2 });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(NetworkError);
    const msg = (err as Error).message;
    expect(msg)
      .to.contain('ECONNREFUSED')
      .and.contain(path.join(path.resolve(dir), 'cifar-10-binary.tar.gz'))
      .and.contain('by hand');
    expect(msg).to.contain('https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz');
    expect(manualHint(DOWNLOADS.cifar10, 'data/cifar10')).to.contain('170052171 bytes');
    fs.writeFileSync(path.join(dir, 'cifar-10-binary.tar.gz'), cifarTgz);
    const r = await downloadDataset(cifarSpec, { dir, mirror: 'http://127.0.0.1:9', retries: 0 });
    expect(r.files[0].how).to.equal('present');
    expect(fs.existsSync(path.join(dir, 'cifar-10-batches-bin', 'test_batch.bin'))).to.equal(true);
  });

  it('a mirror serving a file of the wrong size is rejected before downloading it', async () => {
    const dir = path.join(tmp.dir, 'size');
    const spec: DownloadSpec = { ...cifarSpec, files: [{ ...cifarSpec.files[0], size: cifarTgz.length + 1 }] };
    let err: unknown;
    try {
      await downloadDataset(spec, { dir, mirror: srv.url, retries: 0 });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(DataFormatError);
    expect((err as Error).message).to.contain(`the server sends ${cifarTgz.length} bytes, expected ${cifarTgz.length + 1}`);
    expect(listAll(dir)).to.deep.equal([]);
  });

  it('the built-in manifests name official URLs with sizes and checksums', () => {
    expect(Object.keys(DOWNLOADS).sort()).to.deep.equal(['cifar10', 'cifar100', 'mnist', 'tiny-imagenet']);
    expect(DOWNLOADS.cifar10.files[0].urls[0]).to.equal('https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz');
    expect(DOWNLOADS.cifar100.files[0].urls[0]).to.equal('https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz');
    expect(DOWNLOADS['tiny-imagenet'].files[0].urls[0]).to.equal('http://cs231n.stanford.edu/tiny-imagenet-200.zip');
    for (const spec of Object.values(DOWNLOADS))
      for (const f of spec.files) expect(f.size > 0 && Boolean(f.sha256 || f.md5), f.name).to.equal(true);
  });

  it('the t10k checksums of the mnist manifest match the real files', async function () {
    const dir = requireShared(this, 'mnist');
    for (const f of DOWNLOADS.mnist.files.filter((x) => x.name.startsWith('t10k'))) {
      const h = await hashFile(path.join(dir, f.name));
      expect(h).to.deep.equal({ sha256: f.sha256, md5: f.md5, size: f.size });
    }
  });
});
