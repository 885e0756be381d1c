/**
 * HTML helpers for the site generator, the one place where entry strings become markup. Every string
 * that comes from an entry goes through `esc`; every link URL through `safeUrl`/`link`.
 */
import { httpUrl } from './url';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/**
 * Bidirectional-text controls: embeddings and overrides U+202A-U+202E, isolates U+2066-U+2069, the
 * marks U+200E/U+200F and the Arabic letter mark U+061C. In a displayed string they can reorder what
 * follows (a name that reads differently from what it is), so `esc` shows each as a visible
 * `[U+202E]` instead.
 */
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;

const codePoint = (c: string): string => `[U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}]`;

/** `text` with every bidi control replaced by its visible code point, `[U+202E]`. */
export function neutraliseBidi(text: string): string {
  return text.replace(BIDI_CONTROLS, codePoint);
}

/**
 * A string for a terminal line (the CLI's leaderboard tables): bidi controls and every other control
 * character (C0, DEL, C1: escape sequences included) shown as `[U+001B]`.
 */
/** `value` as text: '' for null/undefined, JSON for objects and arrays, String() otherwise. */
function textOf(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value as string | number | boolean | bigint | symbol);
}

export function plainText(value: unknown): string {
  // eslint-disable-next-line no-control-regex
  return neutraliseBidi(textOf(value)).replace(/[\u0000-\u001f\u007f-\u009f]/g, codePoint);
}

/**
 * Escape text for element content, `<title>` and (double- or single-quoted) attribute values; bidi
 * controls are neutralised (`neutraliseBidi`).
 */
export function esc(value: unknown): string {
  return neutraliseBidi(textOf(value)).replace(/[&<>"'`]/g, (c) => ESC[c]);
}

/**
 * A URL safe to put in href: an absolute http(s) URL that passes the entry URL rule (`urlProblem` in
 * url.ts), as the browser resolves it (`URL.href`); anything else (other schemes, relative or
 * protocol-relative URLs, hidden control characters) is null.
 */
export function safeUrl(url: unknown): string | null {
  return httpUrl(url);
}

/** `<a href>` when the URL is safe, plain escaped text otherwise (the text, never the refused URL). */
export function link(url: unknown, text: unknown): string {
  const u = safeUrl(url);
  return u ? `<a href="${esc(u)}" rel="noopener noreferrer">${esc(text)}</a>` : esc(text);
}

/** A number with fixed decimals, or an en dash for null. */
export function num(x: number | null | undefined, digits = 2): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '–';
}

/** JSON pretty-printed and escaped for a `<pre>`. */
export function jsonBlock(value: unknown): string {
  return `<pre class="json">${esc(JSON.stringify(value, null, 2))}</pre>`;
}

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'";

/**
 * A whole page of the site: its title, the local stylesheet and script under `root` (the relative way
 * back to the site's top, '' or '../'), and a Content-Security-Policy that allows only the site's own files.
 */
export function page(title: string, body: string, root: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>${esc(title)}</title>
<link rel="stylesheet" href="${root}assets/site.css">
</head>
<body>
${body}
<script src="${root}assets/site.js"></script>
</body>
</html>
`;
}
