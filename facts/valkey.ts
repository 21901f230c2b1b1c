/**
 * The command categories the app's Valkey user may run, in order. Celery's broker (kombu)
 * queues with lists, tracks unacknowledged tasks in a hash and a sorted set, binds fanout
 * queues with sets, and uses pub/sub for events and remote control. @scripting: a Celery
 * round trip runs EVALSHA and SCRIPT LOAD (redis-py's Lock, kombu's restore lock) and the
 * `limits` rate limiter counts its windows with Lua scripts (both measured in
 * test/integration/broker.test.ts); a script runs under the same ACL, so it reaches no
 * command the user lacks. Neither flushes the script cache or stores functions: SCRIPT FLUSH
 * and FUNCTION are taken back. `-@dangerous` last takes back whatever a category above
 * shares with it (KEYS, FLUSHDB, ...).
 */
export const VALKEY_APP_CATEGORIES = [
    "-@all",
    "+@connection",
    "+@read",
    "+@write",
    "+@keyspace",
    "+@string",
    "+@list",
    "+@hash",
    "+@set",
    "+@sortedset",
    "+@pubsub",
    "+@transaction",
    "+@scripting",
    "-script|flush",
    "-function",
    "-@dangerous",
] as const;
