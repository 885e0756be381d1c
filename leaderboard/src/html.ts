/** HTML helpers for the site generator. Every string that comes from an entry goes through `esc`. */

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escape text for element content and (double- or single-quoted) attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`]/g, (c) => ESC[c]);
}

/** A URL safe to put in href: only http(s) and relative links without a scheme; anything else is null. */
export function safeUrl(url: unknown): string | null {
  if (typeof url !== 'string') return null;
  const u = url.trim();
  if (/^https?:\/\//i.test(u)) return u;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(u) || u.startsWith('//')) return null;
  return u;
}

/** `<a href>` when the URL is safe, plain escaped text otherwise. */
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
