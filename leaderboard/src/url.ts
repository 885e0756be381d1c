/**
 * The one URL rule of the leaderboard, used when an entry is validated (`validateEntry`: on import, on
 * write, on load, `leaderboard validate`) and again when the site renders a link (`safeUrl` in html.ts).
 *
 * A URL field (`paper.url`, `values.{reported,measured,bestKnown}.url`) is allowed only as an absolute
 * http(s) URL:
 *  - first it is read the way a browser reads an href: leading and trailing C0 control characters and
 *    spaces stripped, tab, CR and LF removed anywhere; so `java\tscript:`, `java\nscript:` and
 *    `\u0001javascript:` are seen as the `javascript:` URLs they are;
 *  - it must then parse with the WHATWG URL parser (`new URL`, no base), have the scheme http or https,
 *    start with `http://` or `https://` as written, and carry no user name or password;
 *  - relative and protocol-relative URLs (`/x`, `x`, `//host/x`, `/\host/x`) are refused: a leaderboard
 *    link always says where it goes; the site renders a refused URL as plain text;
 *  - a URL holding characters that browsers strip, or any other control character, is refused at
 *    validation even when what is left would be fine: an entry stores a URL in the form it is shown.
 */

/** What browsers strip from an href before parsing it (WHATWG URL: C0 controls and spaces, tab/CR/LF). */
export function browserUrlText(raw: string): string {
  // eslint-disable-next-line no-control-regex
  return raw.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '').replace(/[\t\n\r]/g, '');
}

/** Why `raw` is not an allowed link URL, or null when it is. */
export function urlProblem(raw: unknown): string | null {
  if (typeof raw !== 'string') return `must be a string, got ${raw === null ? 'null' : typeof raw}`;
  const text = browserUrlText(raw);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${JSON.stringify(raw)} is not an absolute URL (relative and protocol-relative URLs such as //host or /\\host are refused; write https://...)`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `${JSON.stringify(raw)} has the scheme '${url.protocol}'; only http and https URLs are allowed`;
  if (!/^https?:\/\//i.test(text)) return `${JSON.stringify(raw)} must start with http:// or https://`;
  if (url.username || url.password) return `${JSON.stringify(raw)} carries a user name or password; write the URL without them`;
  // eslint-disable-next-line no-control-regex
  if (text !== raw || /[\u0000-\u001f\u007f-\u009f]/.test(raw))
    return `${JSON.stringify(raw)} holds control characters or surrounding spaces (browsers drop them); write the URL without them`;
  return null;
}

/** The URL as the browser would resolve it (`URL.href`) when it is an allowed link, else null. */
export function httpUrl(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const text = browserUrlText(raw);
  if (urlProblem(raw) !== null) return null;
  return new URL(text).href;
}
