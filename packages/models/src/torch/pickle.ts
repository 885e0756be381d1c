/**
 * A Python pickle reader (protocols 0-5) sufficient for `torch.save` checkpoints. It never executes
 * code: a GLOBAL becomes a {@link PyGlobal} (a pair of strings; nothing is imported or looked up);
 * calling it (REDUCE / NEWOBJ / INST / OBJ) goes through a `call` hook that knows the few constructors
 * checkpoints use (OrderedDict, torch's tensor rebuild functions), and anything else becomes an inert
 * {@link PyObject} holding its class name, arguments and state. BUILD stores state, never calls
 * `__setstate__`; extension codes (EXT1/2/4) and out-of-band buffers are refused. Unknown opcodes fail
 * with a DataFormatError naming the opcode and its byte offset.
 *
 * Resource limits (LIMITS in @dbp-bench/framework): at most `pickleObjects` values are pushed (so
 * memory grows at most linearly in that count), and one integer may have at most `pickleLongBytes`
 * bytes (BigInt parsing is quadratic in the length).
 */
import { DataFormatError, LIMITS, LimitExceededError } from '@dbp-bench/framework';

/** A reference to a Python global `module.name`. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An object of a class the reader does not interpret: class name, constructor args, and BUILD state. */
export class PyObject {
  state: unknown = undefined;
  readonly items: unknown[] = [];
  readonly dict = new Map<unknown, unknown>();
  constructor(
    readonly cls: string,
    readonly args: unknown[],
  ) {}
}

/** A Python tuple (kept distinct from lists only for readability of inspect output). */
export type PyTuple = unknown[] & { __tuple__?: true };

const MARK = Symbol('mark');

export interface PickleHooks {
  /** Called for REDUCE / NEWOBJ; return undefined to get a PyObject. */
  call?(fn: PyGlobal, args: unknown[]): unknown;
  /** BINPERSID / PERSID. */
  persistentLoad?(pid: unknown): unknown;
}

function tuple(xs: unknown[]): PyTuple {
  const t = xs as PyTuple;
  Object.defineProperty(t, '__tuple__', { value: true, enumerable: false });
  return t;
}

/** Two's-complement little-endian integer of LONG1/LONG4; a Number when safe, else a BigInt. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  if (bytes[bytes.length - 1] & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

const OPNAMES: Record<number, string> = {};

/**
 * A short, bounded, cycle-safe description of an unpickled value for error messages, e.g.
 * `a dict with 2 keys ('a', 'b')`, `the integer 3`, `an object of class foo.Bar`.
 */
export function describePyValue(v: unknown): string {
  const short = (x: unknown, depth: number): string => {
    if (x === null || x === undefined) return 'None';
    if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x);
    if (typeof x === 'number' || typeof x === 'bigint' || typeof x === 'boolean') return String(x);
    if (x instanceof PyGlobal) return `<global ${x.qualname}>`;
    if (x instanceof PyObject) return `<${x.cls} object>`;
    if (x instanceof Uint8Array) return `<${x.length} bytes>`;
    if (depth >= 1) return x instanceof Map ? '{...}' : x instanceof Set ? 'set(...)' : Array.isArray(x) ? '[...]' : '<?>';
    if (Array.isArray(x))
      return `(${x
        .slice(0, 6)
        .map((e) => short(e, depth + 1))
        .join(', ')}${x.length > 6 ? ', ...' : ''})`;
    if (x instanceof Map)
      return `{${[...x.keys()]
        .slice(0, 6)
        .map((k) => short(k, depth + 1))
        .join(', ')}${x.size > 6 ? ', ...' : ''}}`;
    if (x instanceof Set) return `set of ${x.size}`;
    return typeof x;
  };
  if (typeof v === 'number' || typeof v === 'bigint') return `the integer ${String(v)}`;
  if (typeof v === 'string') return `the string ${short(v, 0)}`;
  if (v instanceof Map) return `a dict with ${v.size} key(s) ${short(v, 0)}`;
  if (Array.isArray(v)) return `a tuple/list of ${v.length} item(s) ${short(v, 0)}`;
  if (v instanceof PyObject) return `an object of class ${v.cls}`;
  if (v instanceof PyGlobal) return `the global ${v.qualname}`;
  return short(v, 0);
}

/**
 * Unpickle one pickle starting at `start`. Returns the value and the offset after its STOP opcode
 * (legacy torch files hold several pickles back to back).
 */
export function unpickle(buf: Uint8Array, file: string, hooks: PickleHooks = {}, start = 0): { value: unknown; end: number } {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = start;
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  const dec = new TextDecoder('utf-8');
  const latin1 = new TextDecoder('latin1');
  // Every opcode pushes at most one value; counting pushes bounds the values (and memory) a pickle creates.
  let pushes = 0;
  const maxObjects = LIMITS.pickleObjects;
  const push = (v: unknown): void => {
    if (++pushes > maxObjects) {
      throw new LimitExceededError(
        file,
        `the pickle creates more than ${maxObjects} values (at byte ${pos - 1}); refused (a checkpoint's pickle needs far fewer)`,
      );
    }
    stack.push(v);
  };
  const longBytes = (n: number): Uint8Array => {
    if (n > LIMITS.pickleLongBytes)
      throw new LimitExceededError(file, `a pickled integer of ${n} bytes at byte ${pos}; at most ${LIMITS.pickleLongBytes} are allowed`);
    return bytes(n);
  };

  const need = (n: number, what: string): void => {
    if (pos + n > buf.length)
      throw new DataFormatError(file, `truncated pickle: ${what} at byte ${pos} needs ${n} bytes, the data ends at byte ${buf.length}`);
  };
  const u8 = (): number => {
    need(1, 'a 1-byte argument');
    return buf[pos++];
  };
  const u16 = (): number => {
    need(2, 'a 2-byte argument');
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const i32 = (): number => {
    need(4, 'a 4-byte argument');
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u32 = (): number => {
    need(4, 'a 4-byte argument');
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8, 'an 8-byte argument');
    const v = Number(dv.getBigUint64(pos, true));
    pos += 8;
    return v;
  };
  const bytes = (n: number): Uint8Array => {
    need(n, `a ${n}-byte string`);
    const b = buf.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = (): string => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) throw new DataFormatError(file, `truncated pickle: a text argument at byte ${pos} has no newline`);
    const s = latin1.decode(buf.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) throw new DataFormatError(file, `malformed pickle: stack underflow at byte ${pos - 1}`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw new DataFormatError(file, `malformed pickle: empty stack at byte ${pos - 1}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    let i = stack.length - 1;
    while (i >= 0 && stack[i] !== MARK) i--;
    if (i < 0) throw new DataFormatError(file, `malformed pickle: no MARK on the stack at byte ${pos - 1}`);
    const items = stack.splice(i + 1);
    stack.pop();
    return items;
  };
  const call = (fn: unknown, args: unknown[]): unknown => {
    if (fn instanceof PyGlobal) {
      const r = hooks.call?.(fn, args);
      if (r !== undefined) return r;
      if (fn.qualname === 'collections.OrderedDict' || fn.qualname === 'builtins.dict' || fn.qualname === '__builtin__.dict') {
        return new Map<unknown, unknown>();
      }
      if (fn.qualname === 'builtins.set' || fn.qualname === 'builtins.frozenset') return new Set(Array.isArray(args[0]) ? args[0] : []);
      return new PyObject(fn.qualname, args);
    }
    return new PyObject(String(fn), args);
  };
  const setItem = (target: unknown, k: unknown, v: unknown): void => {
    if (target instanceof Map) target.set(k, v);
    else if (target instanceof PyObject) target.dict.set(k, v);
    else throw new DataFormatError(file, `malformed pickle: SETITEM on a non-dict at byte ${pos - 1}`);
  };
  const append = (target: unknown, v: unknown): void => {
    if (Array.isArray(target)) target.push(v);
    else if (target instanceof PyObject) target.items.push(v);
    else if (target instanceof Set) target.add(v);
    else throw new DataFormatError(file, `malformed pickle: APPEND on a non-list at byte ${pos - 1}`);
  };

  for (;;) {
    if (pos >= buf.length)
      throw new DataFormatError(file, `truncated pickle: no STOP opcode before the end of the data (byte ${buf.length})`);
    const opAt = pos;
    const op = buf[pos++];
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        push(MARK);
        break;
      case 0x7d: // EMPTY_DICT
        push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        push(tuple([]));
        break;
      case 0x8f: // EMPTY_SET
        push(new Set());
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const m = new Map();
        for (let i = 0; i + 1 < items.length; i += 2) m.set(items[i], items[i + 1]);
        push(m);
        break;
      }
      case 0x6c: // LIST
        push(popMark());
        break;
      case 0x74: // TUPLE
        push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        push(tuple([pop()]));
        break;
      case 0x86: {
        const b = pop();
        const a = pop();
        push(tuple([a, b]));
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        push(tuple([a, b, c]));
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItem(top(), k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        const d = top();
        for (let i = 0; i + 1 < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        append(top(), v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const l = top();
        for (const v of items) append(l, v);
        break;
      }
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        for (const v of items) append(s, v);
        break;
      }
      case 0x91: // FROZENSET
        push(new Set(popMark()));
        break;
      case 0x63: {
        // GLOBAL
        const mod = line();
        const name = line();
        push(new PyGlobal(mod, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const mod = pop();
        push(new PyGlobal(String(mod), String(name)));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        push(call(fn, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        push(call(cls, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        pop(); // kwargs
        const args = pop();
        const cls = pop();
        push(call(cls, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x69: {
        // INST (protocol 0): module\nname\n, args after MARK
        const mod = line();
        const name = line();
        push(call(new PyGlobal(mod, name), popMark()));
        break;
      }
      case 0x6f: {
        // OBJ
        const items = popMark();
        push(call(items[0], items.slice(1)));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        // BUILD on a dict (OrderedDict `_metadata`) or a tensor (requires_grad state) is ignored.
        break;
      }
      case 0x51: // BINPERSID
        push(hooks.persistentLoad ? hooks.persistentLoad(pop()) : pop());
        break;
      case 0x50: {
        // PERSID
        const pid = line();
        push(hooks.persistentLoad ? hooks.persistentLoad(pid) : pid);
        break;
      }
      case 0x4a: // BININT
        push(i32());
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x49: {
        // INT
        const s = line();
        push(s === '00' ? false : s === '01' ? true : Number.parseInt(s, 10));
        break;
      }
      case 0x4c: {
        // LONG
        const s = line().replace(/L$/, '');
        if (s.length > 2.5 * LIMITS.pickleLongBytes)
          throw new LimitExceededError(
            file,
            `a pickled integer of ${s.length} digits at byte ${opAt}; at most ${Math.floor(2.5 * LIMITS.pickleLongBytes)} are allowed`,
          );
        let b: bigint;
        try {
          b = BigInt(s);
        } catch {
          throw new DataFormatError(file, `malformed pickle: LONG at byte ${opAt} is not an integer`);
        }
        push(b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b);
        break;
      }
      case 0x8a: // LONG1
        push(decodeLong(longBytes(u8())));
        break;
      case 0x8b: // LONG4
        push(decodeLong(longBytes(u32())));
        break;
      case 0x47: {
        // BINFLOAT (big-endian double)
        need(8, 'a float');
        push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x46: // FLOAT
        push(Number.parseFloat(line()));
        break;
      case 0x58: // BINUNICODE
        push(dec.decode(bytes(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(dec.decode(bytes(u8())));
        break;
      case 0x8d: // BINUNICODE8
        push(dec.decode(bytes(u64())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape, newline terminated)
        push(line());
        break;
      case 0x54: // BINSTRING (py2 str)
        push(latin1.decode(bytes(i32())));
        break;
      case 0x55: // SHORT_BINSTRING
        push(latin1.decode(bytes(u8())));
        break;
      case 0x53: {
        // STRING (quoted repr)
        const s = line();
        push(s.replace(/^(['"])(.*)\1$/, '$2'));
        break;
      }
      case 0x42: // BINBYTES
        push(Uint8Array.from(bytes(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        push(Uint8Array.from(bytes(u8())));
        break;
      case 0x8e: // BINBYTES8
        push(Uint8Array.from(bytes(u64())));
        break;
      case 0x96: // BYTEARRAY8
        push(Uint8Array.from(bytes(u64())));
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT
        memo.set(Number.parseInt(line(), 10), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: // LONG_BINGET
      case 0x67: {
        // GET
        const k = op === 0x68 ? u8() : op === 0x6a ? u32() : Number.parseInt(line(), 10);
        if (!memo.has(k)) throw new DataFormatError(file, `malformed pickle: memo key ${k} read at byte ${opAt} was never stored`);
        push(memo.get(k));
        break;
      }
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      default:
        throw new DataFormatError(
          file,
          `unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}${OPNAMES[op] ? ` (${OPNAMES[op]})` : op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : ''} at byte offset ${opAt}`,
        );
    }
  }
}

Object.assign(OPNAMES, { 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER' });
