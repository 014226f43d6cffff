// Task ids as Redis stores them: a UUID (every id Celeriac makes, SPEC.md) in 22 characters of
// base64url instead of 36, in its task key, its queue entries and its events, which saves about 30
// bytes of memory per queued task. Any other id is stored as '~' and the id itself ('~' is not a
// base64url character, so the two forms never meet). Events and replies are turned back into the ids
// users know before anyone sees them.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The stored form of a task id. */
export function toStoredId(id: string): string {
  if (id.length === 36 && UUID.test(id)) return Buffer.from(id.replace(/-/g, ''), 'hex').toString('base64url');
  return `~${id}`;
}

/** The task id of a stored one; anything that is not a stored id comes back unchanged. */
export function fromStoredId(stored: string): string {
  if (stored.length === 22 && stored[0] !== '~') {
    const hex = Buffer.from(stored, 'base64url').toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  return stored[0] === '~' ? stored.slice(1) : stored;
}
