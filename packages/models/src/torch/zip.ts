/**
 * A minimal synchronous zip reader (central directory, stored and deflated entries, zip64), enough
 * for the archives `torch.save` writes (stored, 64-byte aligned entries) and for re-zipped copies.
 *
 * Limits (LIMITS in @dbp-bench/framework): at most `zipEntries` entries; all deflated entries together
 * inflate to at most inflateBudget(archive size) bytes (50x the archive, at least 64 MiB), each one to
 * no more than the size its directory entry declares, so a decompression bomb is stopped early.
 */
import { DataFormatError, LIMITS, LimitExceededError, inflateBudget, inflateChecked } from '@dbp-bench/framework';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly dv: DataView;
  /** Bytes deflated entries may still inflate to (see the module comment). */
  private inflateLeft: number;
  constructor(
    private readonly buf: Uint8Array,
    private readonly file: string,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.inflateLeft = inflateBudget(buf.length);
    this.readDirectory();
  }

  private fail(msg: string): never {
    throw new DataFormatError(this.file, `zip archive: ${msg}`);
  }

  private readDirectory(): void {
    const b = this.buf;
    const dv = this.dv;
    // End of central directory: scan back over the comment (at most 65,535 bytes).
    let eocd = -1;
    for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 65535); i--) {
      if (dv.getUint32(i, true) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) this.fail(`no end-of-central-directory record (the file is truncated or not a zip; size ${b.length} bytes)`);
    let count = dv.getUint16(eocd + 10, true);
    let cdSize = dv.getUint32(eocd + 12, true);
    let cdOffset = dv.getUint32(eocd + 16, true);
    if (count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || dv.getUint32(loc, true) !== 0x07064b50) this.fail('zip64 end-of-central-directory locator missing');
      const z = Number(dv.getBigUint64(loc + 8, true));
      if (z + 56 > b.length || dv.getUint32(z, true) !== 0x06064b50)
        this.fail(`zip64 end-of-central-directory record missing at byte ${z}`);
      count = Number(dv.getBigUint64(z + 32, true));
      cdSize = Number(dv.getBigUint64(z + 40, true));
      cdOffset = Number(dv.getBigUint64(z + 48, true));
    }
    if (count > LIMITS.zipEntries)
      throw new LimitExceededError(this.file, `zip archive: ${count} entries; at most ${LIMITS.zipEntries} are allowed`);
    if (cdOffset + cdSize > b.length)
      this.fail(
        `central directory (bytes ${cdOffset}..${cdOffset + cdSize}) lies beyond the end of the file (${b.length} bytes): truncated`,
      );
    let p = cdOffset;
    const dec = new TextDecoder('utf-8');
    for (let k = 0; k < count; k++) {
      if (p + 46 > b.length || dv.getUint32(p, true) !== 0x02014b50) this.fail(`bad central directory entry ${k} at byte ${p}`);
      const method = dv.getUint16(p + 10, true);
      let compressedSize = dv.getUint32(p + 20, true);
      let size = dv.getUint32(p + 24, true);
      const nameLen = dv.getUint16(p + 28, true);
      const extraLen = dv.getUint16(p + 30, true);
      const commentLen = dv.getUint16(p + 32, true);
      let localHeaderOffset = dv.getUint32(p + 42, true);
      const name = dec.decode(b.subarray(p + 46, p + 46 + nameLen));
      // zip64 extended information extra field
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = dv.getUint16(e, true);
        const len = dv.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) {
            size = Number(dv.getBigUint64(q, true));
            q += 8;
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = Number(dv.getBigUint64(q, true));
            q += 8;
          }
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = Number(dv.getBigUint64(q, true));
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p = eEnd + commentLen;
    }
  }

  /** The entry's bytes (a view for stored entries). */
  read(name: string): Uint8Array {
    const en = this.entries.get(name);
    if (!en) this.fail(`no entry '${name}'`);
    const dv = this.dv;
    const h = en.localHeaderOffset;
    if (h + 30 > this.buf.length || dv.getUint32(h, true) !== 0x04034b50) this.fail(`bad local header of '${name}' at byte ${h}`);
    const start = h + 30 + dv.getUint16(h + 26, true) + dv.getUint16(h + 28, true);
    const end = start + en.compressedSize;
    if (end > this.buf.length)
      this.fail(`entry '${name}' (bytes ${start}..${end}) extends past the end of the file (${this.buf.length} bytes): truncated`);
    const raw = this.buf.subarray(start, end);
    if (en.method === 0) {
      if (en.size !== en.compressedSize) this.fail(`stored entry '${name}' declares ${en.size} bytes but holds ${en.compressedSize}`);
      return raw;
    }
    if (en.method === 8) {
      if (en.size > this.inflateLeft) {
        throw new LimitExceededError(
          this.file,
          `zip archive: entry '${name}' declares ${en.size} bytes inflated from ${en.compressedSize}, more than the ${this.inflateLeft} bytes left of the archive's inflation budget (${LIMITS.inflateRatio}x its ${this.buf.length} bytes, at least ${LIMITS.inflateMinBytes}); refused as a decompression bomb`,
        );
      }
      // Inflate no further than the declared size: a lying directory cannot get more memory.
      const out = inflateChecked(raw, 'deflate-raw', this.file, `zip entry '${name}' (declared ${en.size} bytes)`, en.size);
      if (out.length !== en.size) this.fail(`entry '${name}' inflates to ${out.length} bytes, its directory entry declares ${en.size}`);
      this.inflateLeft -= out.length;
      return out;
    }
    this.fail(`entry '${name}' uses compression method ${en.method} (only stored and deflate are supported)`);
  }
}

export function isZip(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;
}
