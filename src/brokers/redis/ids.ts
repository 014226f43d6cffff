// Task ids as Redis stores them: a UUID (every id Celeriac makes, SPEC.md) in 22 characters of
// base64url instead of 36, in its task key, its queue entries and its events, which saves about 30
// bytes of memory per queued task. Any other id is stored as '~' and the id itself ('~' is not a
// base64url character, so the two forms never meet). Events and replies are turned back into the ids
// users know before anyone sees them.
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const SIXES = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) SIXES[BASE64URL.charCodeAt(i)] = i;
const HEX = '0123456789abcdef';

// Both directions are written out by hand (no Buffer, no regular expression): they run on every
// enqueue and every hand-off, and on an idle process their cost is mostly that of touching more code.

/** The stored form of a task id. */
export function toStoredId(id: string): string {
  if (id.length !== 36) return `~${id}`;
  let out = '';
  let bits = 0;
  let held = 0;
  for (let i = 0; i < 36; i++) {
    const c = id.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return `~${id}`; // '-'
      continue;
    }
    const nibble = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1; // lower-case hex only
    if (nibble < 0) return `~${id}`;
    held = (held << 4) | nibble;
    bits += 4;
    if (bits >= 6) {
      bits -= 6;
      out += BASE64URL[held >> bits];
      held &= (1 << bits) - 1;
    }
  }
  return out + BASE64URL[held << (6 - bits)]; // 128 bits: 21 characters and 2 bits left over.
}

/** The task id of a stored one; anything that is not a stored id comes back unchanged. */
export function fromStoredId(stored: string): string {
  if (stored.length === 22 && stored[0] !== '~') {
    let out = '';
    let bits = 0;
    let held = 0;
    for (let i = 0; i < 22; i++) {
      const c = stored.charCodeAt(i);
      const six = c < 128 ? SIXES[c]! : -1;
      if (six < 0) return stored;
      held = (held << 6) | six;
      bits += 6;
      while (bits >= 4 && out.length < 36) {
        bits -= 4;
        out += HEX[(held >> bits) & 15];
        if (out.length === 8 || out.length === 13 || out.length === 18 || out.length === 23) out += '-';
      }
      held &= (1 << bits) - 1;
    }
    return out;
  }
  return stored[0] === '~' ? stored.slice(1) : stored;
}
