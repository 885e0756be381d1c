/**
 * Hostile weights files (dbp-bench safetensors) given to `dbp-bench eval` and `dbp-bench run`: bad
 * structure, lying metadata, NaN/Inf weights, a directory instead of a file, an l_2 budget larger
 * than the input box.
 */
import * as path from 'node:path';
import { encodeSafetensors, type RawTensor } from '@dbp-bench/models';
import { put, safetensorsRaw, tinyClassifier, validConfig } from './builders';
import { hostileRows, type HostileRow } from './harness';

/** The tensors and metadata of a tiny small-cnn (28x28x1, 10 classes), built once. */
let base: { tensors: Map<string, RawTensor>; metadata: Record<string, string> };

/** The tiny classifier's file after `edit` changed a copy of its tensors and metadata. */
function weightsFile(edit: (t: Map<string, RawTensor>, md: Record<string, string>) => void = () => undefined): Uint8Array {
  const t = new Map([...base.tensors].map(([k, v]) => [k, { ...v, data: (v.data as Float32Array).slice() }] as [string, RawTensor]));
  const md = { ...base.metadata };
  edit(t, md);
  return encodeSafetensors(t, md);
}

const EVAL = (file: string): string[] => [
  'eval',
  '--weights',
  file,
  '--data',
  'synthetic',
  '--option',
  'size=2',
  '--option',
  'imageSize=28',
  '--option',
  'channels=1',
  '--batch-size',
  '2',
];

/** A row that writes `content` as w.safetensors and evaluates it. */
function evalRow(name: string, content: () => Uint8Array | string, expectRe: RegExp): HostileRow {
  return {
    name,
    setup: (dir) => {
      const file = put(dir, 'w.safetensors', content());
      return { args: EVAL(file), names: file };
    },
    expect: expectRe,
  };
}

const F32 = (n: number): Uint8Array => new Uint8Array(new Float32Array(n).buffer);

const ROWS: HostileRow[] = [
  {
    name: 'weights: missing file',
    setup: (dir) => ({ args: EVAL(path.join(dir, 'gone.safetensors')), names: 'gone.safetensors' }),
    expect: /gone\.safetensors not found: expected a \.safetensors weights file/,
  },
  {
    name: 'weights: the path is a directory (EISDIR)',
    setup: (dir) => ({ args: EVAL(dir), names: dir }),
    expect: /is a directory, expected a \.safetensors weights file/,
  },
  evalRow('weights: empty file', () => '', /truncated: 0 bytes/),
  evalRow(
    'weights: header length beyond the end of the file',
    () => safetensorsRaw({}, new Uint8Array(0), 1e12),
    /header length 1000000000000 at byte 0 exceeds the file size/,
  ),
  evalRow('weights: header is not JSON', () => safetensorsRaw('{"a": '), /the header \(bytes 8\.\.14\) is not valid JSON/),
  evalRow('weights: header is a JSON array', () => safetensorsRaw([1, 2]), /the header is not a JSON object/),
  evalRow(
    'weights: unknown dtype',
    () => safetensorsRaw({ x: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16)),
    /tensor 'x': unknown dtype "F128"/,
  ),
  evalRow(
    'weights: negative dimension',
    () => safetensorsRaw({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, F32(1)),
    /tensor 'x': shape must be an array of non-negative integers/,
  ),
  evalRow(
    'weights: offsets disagree with the shape',
    () => safetensorsRaw({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 8] } }, F32(2)),
    /tensor 'x': data_offsets \[0, 8\] hold 8 bytes, shape \[4\] of F32 needs 16/,
  ),
  evalRow(
    'weights: data cut short',
    () => safetensorsRaw({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, F32(2)),
    /tensor 'x': data ends at byte .* \(truncated\)/,
  ),
  evalRow(
    'weights: a metadata value that is not a string',
    () => safetensorsRaw({ __metadata__: { config: { width: 1 } } }),
    /__metadata__\.config must be a string/,
  ),
  evalRow(
    'weights: no dbp-bench metadata (a plain state dict)',
    () => weightsFile((_, md) => delete md.format),
    /metadata 'format' is missing, expected 'dbp-bench'.*weights convert/,
  ),
  evalRow(
    'weights: unknown model kind',
    () => weightsFile((_, md) => (md.kind = 'gan')),
    /metadata 'kind' is 'gan', expected 'unet' or 'classifier'/,
  ),
  evalRow(
    'weights: unknown architecture',
    () => weightsFile((_, md) => (md.arch = 'vgg')),
    /metadata 'arch' is 'vgg', expected one of small-cnn/,
  ),
  evalRow(
    'weights: config metadata is not JSON',
    () => weightsFile((_, md) => (md.config = '{')),
    /metadata field 'config' is not valid JSON/,
  ),
  evalRow(
    'weights: config metadata is not a valid config',
    () => weightsFile((_, md) => (md.config = JSON.stringify({ numClasses: -1, inputShape: [28, 28, 1], mean: [0], std: [1] }))),
    /metadata 'config' is not a valid small-cnn config.*numClasses/s,
  ),
  evalRow(
    'weights: config metadata describing a huge network (allocation refused)',
    () =>
      weightsFile(
        (_, md) =>
          (md.config = JSON.stringify({
            numClasses: 10,
            inputShape: [28, 28, 1],
            mean: [0],
            std: [1],
            channels: [100000, 100000],
            hidden: 8,
          })),
      ),
    /metadata 'config' describes a small-cnn with more than \d+ parameter values, far more than the file's \d+ \(exceeded at 'feature_extractor\.conv2\.weight'\)/,
  ),
  evalRow(
    'weights: NaN in a tensor',
    () => weightsFile((t) => ((t.get('classifier.fc3.weight')!.data as Float32Array)[5] = NaN)),
    /tensor 'classifier\.fc3\.weight' holds 1 non-finite value\(s\) \(the first, NaN, at flat index 5/,
  ),
  evalRow(
    'weights: every value NaN',
    () => weightsFile((t) => (t.get('feature_extractor.conv1.weight')!.data as Float32Array).fill(NaN)),
    /tensor 'feature_extractor\.conv1\.weight' holds 36 non-finite value\(s\)/,
  ),
  evalRow(
    'weights: Infinity in a tensor',
    () => weightsFile((t) => ((t.get('classifier.fc1.bias')!.data as Float32Array)[0] = -Infinity)),
    /tensor 'classifier\.fc1\.bias' holds 1 non-finite value\(s\) \(the first, -Infinity/,
  ),
  evalRow(
    'weights: a tensor of the wrong shape',
    () => weightsFile((t) => t.set('classifier.fc3.bias', { dtype: 'F32', shape: [3], data: new Float32Array(3) })),
    /tensor 'classifier\.fc3\.bias' has shape \[3\], the architecture expects \[10\]/,
  ),
  evalRow(
    'weights: a tensor missing',
    () => weightsFile((t) => t.delete('classifier.fc3.bias')),
    /1 tensor\(s\) the architecture needs are missing, e\.g\. classifier\.fc3\.bias/,
  ),
  evalRow(
    'weights: an extra tensor',
    () => weightsFile((t) => t.set('backdoor.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) })),
    /1 tensor\(s\) do not belong to the architecture, e\.g\. backdoor\.weight/,
  ),
  {
    name: 'run: classifier weights path is a directory',
    setup: (dir) => {
      put(dir, 'w.safetensors/placeholder', 'x');
      const cfg = put(dir, 'config.json', validConfig('w.safetensors'));
      return { args: ['run', cfg, '--out', path.join(dir, 'runs'), '--no-entries'], names: 'w.safetensors' };
    },
    expect: /w\.safetensors: is a directory, expected a \.safetensors weights file/,
  },
  {
    name: 'run: classifier weights with NaN (no run, no entry)',
    setup: (dir) => {
      put(
        dir,
        'w.safetensors',
        weightsFile((t) => ((t.get('classifier.fc2.weight')!.data as Float32Array)[0] = NaN)),
      );
      const cfg = put(dir, 'config.json', validConfig('w.safetensors'));
      return { args: ['run', cfg, '--out', path.join(dir, 'runs'), '--no-entries'], names: 'w.safetensors' };
    },
    expect: /tensor 'classifier\.fc2\.weight' holds 1 non-finite value/,
  },
  {
    name: 'run: an l_2 budget larger than the diameter of the 28x28x1 input box',
    setup: (dir) => {
      put(dir, 'w.safetensors', weightsFile());
      const c = validConfig('w.safetensors') as { attacks: unknown[] };
      c.attacks = [{ id: 'pgd', options: { norm: 'l2', eps: 100, steps: 1, eot: { samples: 1 } } }];
      const cfg = put(dir, 'config.json', c);
      return { args: ['run', cfg, '--out', path.join(dir, 'runs'), '--no-entries'] };
    },
    expect: /config\.json is invalid:\s+- \$\.attacks\[0\]\.options\.eps: 100 exceeds 28\.0000 = sqrt\(28·28·1\), the l_2 diameter/,
  },
];

describe('hostile inputs: weights files (dbp-bench eval, run)', () => {
  before(() => {
    base = tinyClassifier();
  });
  hostileRows(ROWS);
});
