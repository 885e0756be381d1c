import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { accuracyMetric, type LeaderboardEntry } from '../src';

export const FIXTURES = path.resolve(__dirname, '../../test/fixtures');

/** A measured entry as `dbp-bench run` writes it (hand-made, for site and schema tests). */
export function measuredEntry(
  over: { id?: string; name?: string; family?: 'dbp' | 'at' | 'none'; clean?: number; robust?: number; n?: number; attack?: string } = {},
): LeaderboardEntry {
  const n = over.n ?? 64;
  const clean = accuracyMetric(Math.round(((over.clean ?? 90) / 100) * n), n);
  const robust = accuracyMetric(Math.round(((over.robust ?? 50) / 100) * n), n);
  const attack = over.attack ?? 'pgd';
  return {
    schemaVersion: 1,
    id: over.id ?? 'dp-ddpm-wrn',
    kind: 'measured',
    name: over.name ?? 'DP_DDPM + WRN-28-10',
    paper: null,
    dataset: { id: 'cifar10', split: 'test', n, subset: { kind: 'first', n }, indicesHash: '0123456789abcdef' },
    threatModel: { id: 'linf-8_255', norm: 'linf', eps: { value: 8 / 255, display: '8/255' } },
    defense: {
      id: 'dp-ddpm',
      family: over.family ?? 'dbp',
      options: { tStar: 0.1 },
      capabilities: { stochastic: true, streams: ['forward', 'reverse'], gradientModes: ['exact'], networkCalls: 101 },
    },
    classifier: { architecture: 'wrn-28-10', weights: 'weights/wrn.safetensors', sha256: 'a'.repeat(64) },
    results: { clean, attacks: [{ name: `${attack}-20`, id: attack, accuracy: robust, attacked: n }], robust },
    values: {
      reported: null,
      measured: { clean: clean.value, robust: robust.value, source: 'dbp-bench run 0123' },
      bestKnown: { robust: robust.value, source: 'this evaluation' },
    },
    protocol: {
      attacks: [
        {
          name: `${attack}-20`,
          id: attack,
          options: { steps: 20 },
          eot: 10,
          steps: 20,
          noisePolicy: 'fresh',
          gradient: 'exact',
          norm: 'linf',
          eps: 8 / 255,
        },
      ],
      purifications: 1,
      batchSize: 8,
      reduced: false,
    },
    flags: { randomized: true, forwardPasses: 102, unreliable: false, reducedProtocol: false, sanity: [] },
    provenance: {
      source: 'dbp-bench run',
      frameworkVersion: '0.1.0',
      gitCommit: null,
      backend: { name: 'wasm', version: '4.22.0' },
      hardware: { cpuModel: 'cpu', cpuCount: 2, memoryBytes: 1e9, platform: 'linux', arch: 'x64' },
      seeds: { run: 0 },
      datasetIndicesHash: '0123456789abcdef',
      runHash: '0123',
      shards: 1,
      startTime: '2025-01-01T00:00:00.000Z',
      endTime: '2025-01-01T01:00:00.000Z',
    },
    resultsFile: null,
  };
}

/**
 * URL probes that must never become a link: schemes other than http(s) written the ways browsers still
 * read as that scheme, relative and protocol-relative URLs (`/\host` is an off-site link in a browser).
 */
export const URL_PROBES: readonly string[] = [
  'javascript:alert(11)',
  'JaVaScRiPt:alert(12)',
  'java\tscript:alert(13)',
  'java\nscript:alert(14)',
  'java\rscript:alert(15)',
  '\u0001javascript:alert(16)',
  '\u0000javascript:alert(17)',
  ' javascript:alert(18)',
  '\u001fjava\tscript:alert(19) ',
  'data:text/html,<script>alert(20)</script>',
  'vbscript:msgbox(1)',
  'file:///etc/passwd',
  '//evil.example/x',
  '/\\evil.example/x',
  '\\\\evil.example/x',
  '\t//evil.example/x',
  'https:evil.example/x',
  'https:/evil.example/x',
  'https://user:pw@evil.example/',
  'htt\tps://evil.example/',
  ' https://evil.example/',
  'https://evil.example/\u0085',
  '/relative/x',
  'x.html',
  '#top',
  '',
];

/** Every bidi control the site must neutralise. */
export const BIDI = [
  '\u202A',
  '\u202B',
  '\u202C',
  '\u202D',
  '\u202E',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
  '\u200E',
  '\u200F',
  '\u061C',
];

/** The Chromium to drive: $CHROMIUM_PATH, else `chromium` / `chromium-browser` on PATH. */
export function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH && fs.existsSync(process.env.CHROMIUM_PATH)) return process.env.CHROMIUM_PATH;
  for (const name of ['chromium', 'chromium-browser']) {
    const r = spawnSync('which', [name], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return undefined;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.jsonl': 'application/x-ndjson',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** A static file server over `root` on 127.0.0.1 (the site works from a plain file server). */
export function serve(root: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.join(root, rel.endsWith('/') ? `${rel}index.html` : rel);
    if (!file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(() => r())) });
    }),
  );
}

/** A headless Chromium on a throw-away profile; `close` ends it and removes the profile. */
export interface HeadlessChromium {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launch Chromium `exe` headless with a fresh profile; every request that does not go to `allowedUrl`
 * (the local test server) is aborted, so nothing leaves the machine.
 */
export async function launchChromium(exe: string, allowedUrl: string): Promise<HeadlessChromium> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-chromium-'));
  const removeProfile = (): void => fs.rmSync(userDir, { recursive: true, force: true });
  try {
    const { chromium } = require('playwright-core') as typeof import('playwright-core');
    const context = await chromium.launchPersistentContext(userDir, {
      executablePath: exe,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    await context.route('**/*', (route) => (route.request().url().startsWith(allowedUrl) ? route.continue() : route.abort()));
    return {
      context,
      close: async () => {
        await context.close();
        removeProfile();
      },
    };
  } catch (err) {
    removeProfile();
    throw err;
  }
}
