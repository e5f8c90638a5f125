// Ids are UUIDs stored in uuid columns: a malformed one must be turned away before it reaches Postgres, where the
// cast would fail the whole query instead of matching nothing.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(id: string): boolean {
  return UUID.test(id);
}
