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

/**
 * What the broker's metrics exporter (redis_exporter) may run, command by command, and no more:
 * its connection (AUTH, HELLO, PING, SELECT, CLIENT SETNAME), INFO and CONFIG GET (memory, AOF,
 * clients, maxmemory), the slow log and latency summaries, and each watched queue's type and
 * length and size (TYPE, LLEN, MEMORY USAGE, on read-only key patterns). INFO, CONFIG, SLOWLOG and LATENCY are in
 * @dangerous, so unlike the app's this list takes nothing back at its end: it grants nothing but
 * what it names. Measured with the real exporter against the real server
 * (test/integration/broker.test.ts): the ACL log holds no denial.
 */
export const VALKEY_EXPORTER_COMMANDS = [
    "-@all",
    "+@connection",
    "+info",
    "+config|get",
    "+slowlog|get",
    "+slowlog|len",
    "+latency|latest",
    "+latency|histogram",
    "+type",
    "+llen",
    "+memory|usage",
] as const;

/** The broker's ACL users and what each may run: the app's (Celery and the rate limiter) and the exporter's. */
export const VALKEY_USERS = {
    app: { name: "flowviz", grants: VALKEY_APP_CATEGORIES },
    exporter: { name: "redis_exporter", grants: VALKEY_EXPORTER_COMMANDS },
} as const;
