// The shared aggregate store: one Redis hash per (metric, window granularity, bucket index).
//
// Throughput comes from doing little per sample: a batch's samples are pre-merged in JS into one delta per bucket,
// and all deltas, plus the record of the applied batch, go to Redis in ONE Lua call, which also makes the apply
// atomic (the exactly-once protocol in types.ts relies on that). Memory is bounded by buckets, not samples: every
// bucket expires (PEXPIREAT) once no window can read it.
//
// The state is kept per partition of the outbox (src/events/partitions.ts): each partition's processor applies its
// events to buckets of its own, and a read merges the partitions' buckets as it merges a window's. A partition's apply,
// marker and rebuild touch only its keys, which share one Redis Cluster hash tag (`{p<n>of<P>}`, lease.ts), so no
// Lua call ever names two partitions' keys.
//
// Keys, all under `keyPrefix` (REDIS_KEY_PREFIX and the database's namespace, src/redis-namespace.ts):
//   {p<n>of<P>}:agg:lease                        the partition's lease (src/lease.ts); its value is the fence
//   {p<n>of<P>}:agg:applied                      JSON {seqs, ids} of the partition's last applied batch; its absence
//                                                means the partition's state was lost
//   {p<n>of<P>}:agg:ls:<metric>                  sorted set, the metric's label parts (labels.ts) → newest sample time
//   {p<n>of<P>}:agg:b:<window>:<index>:<metric>  hash: count, mean, m2, sum, min, max, and one field per sketch bin
//   {series}:names                               sorted set, series (a metric, or a labelled series) → newest sample
//                                                time, of every partition: the live series publishing admits against
//   {series}:new:<owner>:<minute>                new series the owner (an API key) started in that minute

import { createHash } from 'node:crypto';
import { FENCE_CHECK_LUA, fenced, leaseKey, partitionTag } from '../lease.js';
import { getOrCreate } from '../maps.js';
import { escapeGlob, type RedisClient, scanEachMaster } from '../redis.js';
import { ApplyCost } from './apply-cost.js';
import { splitSeries } from './labels.js';
import {
  type BatchSeries,
  BUDGET_WINDOW_MS,
  budgetMinute,
  type SeriesLimits,
  type SeriesRegistry,
  type SeriesVerdict,
} from './series.js';
import { addValue, type BucketStats, emptyStats, finalize, finalizePoint, mergeInto, sketchBin } from './stats.js';
import {
  type AggregateQuery,
  type AggregateStore,
  type AppliedBatch,
  type BucketQuery,
  batchOfRecord,
  type MetricAggregate,
  type MetricPoint,
  type MetricSample,
  recordOf,
  STALE_CODE,
  StaleStateError,
  type WindowSize,
} from './types.js';
import { AGGREGATION_HORIZON_MS, BUCKETS_PER_WINDOW, sampleBuckets, windowBuckets } from './windows.js';

export interface RedisAggregateStoreOptions {
  /** A connection without ioredis `keyPrefix`; the store prefixes keys itself. Owned by the caller. */
  redis: RedisClient;
  keyPrefix: string;
  /** The outbox's partitions (PROCESSOR_PARTITIONS): each keeps buckets of its own, which reads merge. */
  partitions?: number;
  clock?: () => number;
  /** How long a bucket outlives the last window that reads it: absorbs clock skew between instances and Redis. */
  retentionGraceMs?: number;
  /** Keys asked for per SCAN step (and deleted per call) while a rebuild clears the old state; names per ZSCAN step. */
  scanCount?: number;
  /**
   * Queries answered per Redis call (AGGREGATE_READ_CHUNK): a read script blocks Redis while it runs, so a large
   * read is split into calls made one after another, and other clients' commands run in between.
   */
  readChunk?: number;
}

// Lua's own number-to-string keeps 14 digits; 17 round-trip a double exactly.
const LUA_FORMAT_NUMBER = `local function num(x) return string.format('%.17g', x) end`;

// Bins are read and written a slice at a time, one HMGET and one HSET per slice rather than one HINCRBY per bin
// (calls from Lua dominate the cost); a slice keeps unpack() well inside Lua's stack limit of about 8,000 values.
const LUA_SLICE = 1_000;

// KEYS (one partition's): lease, applied marker, then one label index per labelled series, then one bucket per delta.
// ARGV: fence, applied batch ('' leaves the marker alone), names cutoff, label index count,
//       SHA-1 of the marker the state must hold now ('' checks none),
//       (label part, newest time, expiresAt) per label index,
//       then per bucket: count, mean, m2, sum, min, max, expiresAt, bin count, (bin, count) per bin.
// Merging mirrors `mergeInto` in stats.ts (Chan's parallel combine).
const APPLY_SCRIPT = `${FENCE_CHECK_LUA}
if ARGV[5] ~= '' and redis.sha1hex(redis.call('GET', KEYS[2]) or '') ~= ARGV[5] then
  return redis.error_reply('${STALE_CODE} the aggregate state is not the one last applied')
end
${LUA_FORMAT_NUMBER}
local a = 6
local indexes = tonumber(ARGV[4])
for k = 3, 2 + indexes do
  redis.call('ZADD', KEYS[k], 'GT', ARGV[a + 1], ARGV[a])
  redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', ARGV[3])
  redis.call('PEXPIREAT', KEYS[k], ARGV[a + 2], 'GT')
  if redis.call('PTTL', KEYS[k]) < 0 then redis.call('PEXPIREAT', KEYS[k], ARGV[a + 2]) end
  a = a + 3
end
for k = 3 + indexes, #KEYS do
  local key = KEYS[k]
  local count, mean, m2 = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local sum, min, max = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  local expiresAt, bins = ARGV[a + 6], tonumber(ARGV[a + 7])
  a = a + 8
  local old = redis.call('HMGET', key, 'count', 'mean', 'm2', 'sum', 'min', 'max')
  local oldCount = tonumber(old[1])
  if oldCount then
    local total = oldCount + count
    local oldMean = tonumber(old[2])
    local delta = mean - oldMean
    mean = oldMean + delta * count / total
    m2 = tonumber(old[3]) + (m2 + delta * delta * oldCount * count / total)
    count = total
    sum = tonumber(old[4]) + sum
    min = math.min(tonumber(old[5]), min)
    max = math.max(tonumber(old[6]), max)
  end
  redis.call('HSET', key, 'count', num(count), 'mean', num(mean), 'm2', num(m2), 'sum', num(sum),
    'min', num(min), 'max', num(max))
  for first = a, a + 2 * (bins - 1), 2 * ${LUA_SLICE} do
    local names = {}
    for i = first, math.min(first + 2 * ${LUA_SLICE}, a + 2 * bins) - 2, 2 do names[#names + 1] = ARGV[i] end
    local counts = redis.call('HMGET', key, unpack(names))
    local fields = {}
    for j, name in ipairs(names) do
      fields[2 * j - 1] = name
      fields[2 * j] = (tonumber(counts[j]) or 0) + tonumber(ARGV[first + 2 * j - 1])
    end
    redis.call('HSET', key, unpack(fields))
  end
  a = a + 2 * bins
  redis.call('PEXPIREAT', key, expiresAt)
end
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2]) end
return 'OK'
`;

// KEYS: buckets, in groups of ARGV[g] keys each; a group's buckets are merged into one row.
// Returns per group: count, mean, m2, sum, min, max, then (bin, count) per bin.
const READ_SCRIPT = `
local STATS = { count = true, mean = true, m2 = true, sum = true, min = true, max = true }
${LUA_FORMAT_NUMBER}
local results = {}
local k = 1
for g = 1, #ARGV do
  local count, mean, m2, sum, min, max = 0, 0, 0, 0, math.huge, -math.huge
  local bins = {}
  for _ = 1, tonumber(ARGV[g]) do
    local fields = redis.call('HGETALL', KEYS[k])
    k = k + 1
    local bucket = {}
    for i = 1, #fields, 2 do
      local name, value = fields[i], tonumber(fields[i + 1])
      if STATS[name] then bucket[name] = value else bins[name] = (bins[name] or 0) + value end
    end
    if bucket.count then
      local total = count + bucket.count
      local delta = bucket.mean - mean
      mean = mean + delta * bucket.count / total
      m2 = m2 + (bucket.m2 + delta * delta * count * bucket.count / total)
      count = total
      sum = sum + bucket.sum
      min = math.min(min, bucket.min)
      max = math.max(max, bucket.max)
    end
  end
  local row = { num(count), num(mean), num(m2), num(sum), num(min), num(max) }
  for bin, binCount in pairs(bins) do
    row[#row + 1] = bin
    row[#row + 1] = num(binCount)
  end
  results[#results + 1] = row
end
return results
`;

// KEYS: names, the owner's counter of new series this minute.
// ARGV: names cutoff, most new per minute, most live series, counter lifetime (ms), how many more new names the
//       batch has beyond those sent, then (metric, newest) per name that a read just before found new (the script
//       checks again: another batch may have admitted it since).
// Returns { 'OK', new } or { limit, the first metric past it ('' when it is one of those not sent), new, used }
// (used: this minute's count or live names). Admitted names enter the names set at once, so the next batch counts
// them as live, not new. The names not sent count as new in both checks, so a batch can never pass with them
// unrecorded: it is refused whenever any are left.
const ADMIT_SCRIPT = `
local cutoff = tonumber(ARGV[1])
local maxNew, maxSeries = tonumber(ARGV[2]), tonumber(ARGV[3])
local unsent = tonumber(ARGV[5])
local fresh = {}
for i = 6, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if not score or tonumber(score) <= cutoff then fresh[#fresh + 1] = i end
end
local wanted = #fresh + unsent
if wanted == 0 then return { 'OK', 0 } end
local function past(limit, used)
  local i = fresh[math.max(1, limit - used + 1)]
  return i and ARGV[i] or ''
end
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
if used + wanted > maxNew then
  return { 'MAX_NEW_SERIES_PER_MINUTE', past(maxNew, used), wanted, used }
end
local live = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf')
if live + wanted > maxSeries then
  return { 'MAX_SERIES', past(maxSeries, live), wanted, live }
end
redis.call('INCRBY', KEYS[2], #fresh)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
for _, i in ipairs(fresh) do redis.call('ZADD', KEYS[1], 'GT', ARGV[i + 1], ARGV[i]) end
return { 'OK', #fresh }
`;

// KEYS: lease, then the keys to delete. ARGV[1]: fence.
const FENCED_DELETE_SCRIPT = `${FENCE_CHECK_LUA}
for k = 2, #KEYS do redis.call('DEL', KEYS[k]) end
return 'OK'
`;

type ScriptArg = string | number;
type ScriptCall<T> = (keyCount: number, keys: string[], args: ScriptArg[]) => Promise<T>;

interface AggregateCommands {
  jackdawAggregateApply: ScriptCall<string>;
  jackdawAggregateRead: ScriptCall<string[][]>;
  jackdawAggregateFencedDelete: ScriptCall<string>;
  jackdawSeriesAdmit: ScriptCall<[string, ...(string | number)[]]>;
}

interface BucketDelta {
  window: WindowSize;
  index: number;
  expiresAt: number;
  stats: BucketStats;
}

/** A batch pre-merged: metric → window → bucket index → delta, and each metric's newest sample time. */
interface PreMerged {
  deltas: Map<string, Map<WindowSize, Map<number, BucketDelta>>>;
  newest: Map<string, number>;
}

export class RedisAggregateStore implements AggregateStore, SeriesRegistry {
  private readonly redis: RedisClient;
  private readonly commands: AggregateCommands;
  private readonly keyPrefix: string;
  private readonly clock: () => number;
  private readonly retentionGraceMs: number;
  private readonly scanCount: number;
  private readonly readChunk: number;
  private readonly namesKey: string;
  /** Each partition's keys start with this (its tag), index = partition. */
  private readonly partitionPrefixes: string[];

  constructor({
    redis,
    keyPrefix,
    clock = Date.now,
    retentionGraceMs = 60_000, // one minute
    scanCount = 1_000, // keys per SCAN step: each step is short, so a rebuild never stalls Redis
    readChunk = 10, // queries per read call: 600 bucket reads, a few ms (AGGREGATE_READ_CHUNK)
    partitions = 1,
  }: RedisAggregateStoreOptions) {
    this.redis = redis;
    this.keyPrefix = keyPrefix;
    this.clock = clock;
    this.retentionGraceMs = retentionGraceMs;
    this.scanCount = scanCount;
    this.readChunk = readChunk;
    this.namesKey = `${keyPrefix}{series}:names`;
    this.partitionPrefixes = Array.from(
      { length: partitions },
      (_, partition) => `${keyPrefix}${partitionTag(partition, partitions)}:agg:`,
    );
    redis.defineCommand('jackdawAggregateApply', { lua: APPLY_SCRIPT });
    redis.defineCommand('jackdawAggregateRead', { lua: READ_SCRIPT, readOnly: true });
    redis.defineCommand('jackdawAggregateFencedDelete', { lua: FENCED_DELETE_SCRIPT });
    redis.defineCommand('jackdawSeriesAdmit', { lua: ADMIT_SCRIPT });
    this.commands = redis as unknown as AggregateCommands;
  }

  get partitions(): number {
    return this.partitionPrefixes.length;
  }

  async lastAppliedBatch(partition = 0): Promise<AppliedBatch | null> {
    return batchOfRecord(await this.lastAppliedRecord(partition));
  }

  async lastAppliedRecord(partition = 0): Promise<string | null> {
    return this.redis.get(this.appliedKey(partition));
  }

  async hasState(partition: number): Promise<boolean> {
    return (await this.redis.exists(this.appliedKey(partition))) === 1;
  }

  applyCost(): ApplyCost {
    return new ApplyCost(this.clock(), this.retentionGraceMs);
  }

  async apply(
    batch: AppliedBatch,
    samples: MetricSample[],
    fence?: string,
    partition = 0,
    previous?: string,
  ): Promise<void> {
    const expected = previous === undefined ? '' : createHash('sha1').update(previous).digest('hex');
    await this.applyDeltas(partition, samples, recordOf(batch), fence, expected);
  }

  async rebuild(chunks: AsyncIterable<MetricSample[]>, fence?: string, partition = 0): Promise<void> {
    // The marker goes first and comes back with the next apply, so a rebuild cut short leaves the state marked lost.
    await this.fencedDelete(partition, [this.appliedKey(partition)], fence);
    await this.deleteState(partition, fence);
    for await (const samples of chunks) await this.applyDeltas(partition, samples, '', fence);
  }

  async read(queries: AggregateQuery[], at: number): Promise<MetricAggregate[]> {
    const spans = queries.map((query) => ({ query, ...windowBuckets(query.window, at) }));
    const merged = await this.readGroups(spans.length, (partition) =>
      spans.map(({ query: { metric, window, series = [metric] }, first }) =>
        series.flatMap((name) =>
          Array.from({ length: BUCKETS_PER_WINDOW }, (_, i) => this.bucketKey(partition, name, window, first + i)),
        ),
      ),
    );
    return spans.map(({ query: { metric, window, labels = [] }, from, to }, q) =>
      finalize(metric, window, from, to, merged[q] as BucketStats, [...labels]),
    );
  }

  async readPoints({ metric, window, series = [metric] }: AggregateQuery, at: number): Promise<MetricPoint[]> {
    const { first, granularity } = windowBuckets(window, at);
    const indexes = Array.from({ length: BUCKETS_PER_WINDOW }, (_, i) => first + i);
    const merged = await this.readGroups(indexes.length, (partition) =>
      indexes.map((index) => series.map((name) => this.bucketKey(partition, name, window, index))),
    );
    return indexes.map((index, i) => finalizePoint(index * granularity, merged[i] as BucketStats));
  }

  /**
   * The buckets' hashes, pipelined in slices of `readChunk` windows' worth (plain HGETALLs, each short, rather than a
   * script that holds Redis for the whole slice); parsed as stored, so a reader merging them in bucket order gets
   * what the read script's merge gives.
   */
  async readBuckets(buckets: readonly BucketQuery[]): Promise<BucketStats[]> {
    // Each bucket of each partition (plain HGETALLs, one key each), in one pipeline per partition: on a Redis Cluster
    // a pipeline may only name keys of one node, and a partition's keys share its hash tag.
    const partitions = Array.from({ length: this.partitions }, (_, partition) => partition);
    const keysOf = partitions.map((): { key: string; at: number }[] => []);
    let count = 0;
    for (const { window, series, index } of buckets)
      for (const partition of partitions)
        for (const name of series)
          keysOf[partition]?.push({ key: this.bucketKey(partition, name, window, index), at: count++ });
    const stored: BucketStats[] = new Array(count);
    const maxKeys = this.readChunk * BUCKETS_PER_WINDOW;
    await Promise.all(
      keysOf.map(async (keys) => {
        for (let start = 0; start < keys.length; start += maxKeys) {
          const slice = keys.slice(start, start + maxKeys);
          const pipeline = this.redis.pipeline();
          for (const { key } of slice) pipeline.hgetall(key);
          const answers = (await pipeline.exec()) ?? [];
          answers.forEach(([error, fields], i) => {
            if (error) throw error;
            stored[(slice[i] as { at: number }).at] = parseStoredBucket(fields as Record<string, string>);
          });
        }
      }),
    );
    let next = 0;
    return buckets.map(({ series }) => {
      const parts = series.length * this.partitions;
      if (parts === 1) return stored[next++] as BucketStats;
      const merged = emptyStats();
      for (let i = 0; i < parts; i++) mergeInto(merged, stored[next++] as BucketStats);
      return merged;
    });
  }

  async metricNames(at: number): Promise<string[]> {
    const names = await this.liveMembers(this.namesKey, at);
    return names.filter((name) => splitSeries(name).labelPart === null).sort();
  }

  async labelSets(metric: string, at: number): Promise<string[]> {
    const sets = new Set<string>();
    for (let partition = 0; partition < this.partitions; partition++)
      for (const set of await this.liveMembers(this.labelIndexKey(partition, metric), at)) sets.add(set);
    return [...sets].sort();
  }

  /** Members of a sorted set of newest sample times still inside the horizon. */
  private async liveMembers(key: string, at: number): Promise<string[]> {
    // ZSCAN in steps rather than one ZRANGEBYSCORE, so a large set never blocks Redis; a name may come twice.
    const since = at - AGGREGATION_HORIZON_MS;
    const names = new Set<string>();
    let cursor = '0';
    do {
      const [next, found] = await this.redis.zscan(key, cursor, 'COUNT', this.scanCount);
      cursor = next;
      for (let i = 0; i + 1 < found.length; i += 2) if (Number(found[i + 1]) > since) names.add(found[i] as string);
    } while (cursor !== '0');
    return [...names];
  }

  /**
   * Each group of bucket keys (`groupsOf(partition)`: the same groups in every partition) merged into one statistics,
   * over all partitions. A call names one partition's keys only (one hash slot). A read script blocks Redis while it
   * runs, so calls hold at most `readChunk` windows' worth of buckets, one after another (not pipelined: Redis runs a
   * client's pipelined commands back to back); a larger group is read in parts, merged here as the script merges.
   */
  private async readGroups(count: number, groupsOf: (partition: number) => string[][]): Promise<BucketStats[]> {
    const results = Array.from({ length: count }, () => emptyStats());
    for (let partition = 0; partition < this.partitions; partition++)
      await this.readPartitionGroups(groupsOf(partition), results);
    return results;
  }

  private async readPartitionGroups(groups: string[][], results: BucketStats[]): Promise<void> {
    const maxKeys = this.readChunk * BUCKETS_PER_WINDOW;
    let keys: string[] = [];
    let sizes: number[] = [];
    let owners: number[] = [];
    const call = async () => {
      if (keys.length === 0 && sizes.length === 0) return;
      const rows = await this.commands.jackdawAggregateRead(keys.length, keys, sizes);
      owners.forEach((owner, i) => {
        mergeInto(results[owner] as BucketStats, parseMergedStats(rows[i] ?? []));
      });
      keys = [];
      sizes = [];
      owners = [];
    };
    for (const [owner, group] of groups.entries()) {
      for (let start = 0; start < group.length; start += maxKeys) {
        const part = group.slice(start, start + maxKeys);
        if (keys.length + part.length > maxKeys) await call();
        keys.push(...part);
        sizes.push(part.length);
        owners.push(owner);
      }
    }
    await call();
  }

  async admitSeries(
    series: Map<string, BatchSeries>,
    owner: string,
    { maxNewPerMinute, maxSeries }: SeriesLimits,
    at: number,
  ): Promise<SeriesVerdict> {
    if (series.size === 0) return { ok: true, new: 0 };
    // Publishing goes on while Redis is away (the outbox holds the events); so does it without this check.
    if (this.redis.status !== 'ready') return { ok: 'unchecked' };
    const cutoff = at - AGGREGATION_HORIZON_MS;
    // Which names are new, read in slices (ZMSCORE, O(1) a name) so no call is long; a batch of known names, the
    // usual case, costs this one call and no write.
    const names = [...series.keys()];
    const fresh: string[] = [];
    for (let start = 0; start < names.length; start += this.scanCount) {
      const slice = names.slice(start, start + this.scanCount);
      const scores = await this.redis.zmscore(this.namesKey, ...slice);
      slice.forEach((name, i) => {
        const score = scores[i];
        if (score == null || Number(score) <= cutoff) fresh.push(name);
      });
    }
    if (fresh.length === 0) return { ok: true, new: 0 };
    // One name past the budget is refused whatever the rest: the atomic call never needs more than that.
    const candidates = fresh.slice(0, maxNewPerMinute + 1);
    const keys = [this.namesKey, `${this.keyPrefix}{series}:new:${owner}:${budgetMinute(at)}`];
    const unsent = fresh.length - candidates.length;
    const args: ScriptArg[] = [cutoff, maxNewPerMinute, maxSeries, 2 * BUDGET_WINDOW_MS, unsent];
    for (const metric of candidates) args.push(metric, (series.get(metric) as BatchSeries).newest);
    const [verdict, ...rest] = await this.commands.jackdawSeriesAdmit(keys.length, keys, args);
    if (verdict === 'OK') return { ok: true, new: Number(rest[0]) };
    const [metric, admitted, used] = rest;
    return {
      ok: false,
      limit: verdict === 'MAX_SERIES' ? 'MAX_SERIES' : 'MAX_NEW_SERIES_PER_MINUTE',
      // '' when the first name past the limit is one not sent: the first of those.
      metric: String(metric) || (fresh[candidates.length] as string),
      new: Math.max(Number(admitted), fresh.length),
      used: Number(used),
    };
  }

  /** The connection belongs to the caller, who quits it; the store holds nothing else. */
  async close(): Promise<void> {}

  private async applyDeltas(
    partition: number,
    samples: MetricSample[],
    appliedBatch: string,
    fence = '',
    previous = '',
  ): Promise<void> {
    const now = this.clock();
    const cutoff = now - AGGREGATION_HORIZON_MS;
    const { deltas, newest } = preMerge(samples, now, this.retentionGraceMs);
    const keys = [this.leaseKey(partition), this.appliedKey(partition)];
    const indexArgs: ScriptArg[] = [];
    for (const [series, timestamp] of newest) {
      const { metric, labelPart } = splitSeries(series);
      if (labelPart === null) continue;
      keys.push(this.labelIndexKey(partition, metric));
      indexArgs.push(labelPart, timestamp, Math.ceil(timestamp + AGGREGATION_HORIZON_MS + this.retentionGraceMs));
    }
    const args: ScriptArg[] = [fence, appliedBatch, cutoff, indexArgs.length / 3, previous];
    args.push(...indexArgs);
    for (const [metric, byWindow] of deltas) {
      for (const byIndex of byWindow.values()) {
        for (const { window, index, expiresAt, stats } of byIndex.values()) {
          keys.push(this.bucketKey(partition, metric, window, index));
          args.push(stats.count, stats.mean, stats.m2, stats.sum, stats.min, stats.max, expiresAt, stats.bins.size);
          for (const [bin, count] of stats.bins) args.push(bin, count);
        }
      }
    }
    await fenced(() =>
      this.commands.jackdawAggregateApply(keys.length, keys, args).catch((error: unknown) => {
        if (error instanceof Error && error.message.startsWith(`${STALE_CODE} `)) throw new StaleStateError();
        throw error;
      }),
    );
    await this.recordSeries(newest, cutoff);
  }

  /**
   * The live series of every partition, in one set, which publishing admits new series against and `metricNames`
   * lists: a key of its own (no partition's), so it is written after the partition's apply, not in it. A partition's
   * rebuild leaves it alone (it holds every partition's series); a series no longer sampled ages out of it in 24 h. Scores only grow (GT), so writes of
   * several partitions, in any order, leave each series' newest sample time.
   */
  private async recordSeries(newest: Map<string, number>, cutoff: number): Promise<void> {
    if (newest.size === 0) return;
    const members: ScriptArg[] = [];
    for (const [series, timestamp] of newest) members.push(timestamp, series);
    await this.redis
      .pipeline()
      .zadd(this.namesKey, 'GT', ...members)
      .zremrangebyscore(this.namesKey, '-inf', cutoff)
      .exec();
  }

  /** Deletes every key of the partition but its lease, on every master of a cluster (SCAN, never KEYS). */
  private async deleteState(partition: number, fence?: string): Promise<void> {
    const pattern = `${escapeGlob(this.partitionPrefixes[partition] as string)}*`;
    const lease = this.leaseKey(partition);
    await scanEachMaster(this.redis, pattern, this.scanCount, async (found) => {
      const doomed = found.filter((key) => key !== lease);
      if (doomed.length > 0) await this.fencedDelete(partition, doomed, fence);
    });
  }

  private async fencedDelete(partition: number, keys: string[], fence = ''): Promise<void> {
    const allKeys = [this.leaseKey(partition), ...keys];
    await fenced(() => this.commands.jackdawAggregateFencedDelete(allKeys.length, allKeys, [fence]));
  }

  private leaseKey(partition: number): string {
    return leaseKey(this.keyPrefix, partition, this.partitions);
  }

  private appliedKey(partition: number): string {
    return `${this.partitionPrefixes[partition]}applied`;
  }

  private labelIndexKey(partition: number, metric: string): string {
    return `${this.partitionPrefixes[partition]}ls:${metric}`;
  }

  private bucketKey(partition: number, metric: string, window: WindowSize, index: number): string {
    return `${this.partitionPrefixes[partition]}b:${window}:${index}:${metric}`;
  }
}

/** One delta per bucket the samples touch (maps keyed by parts, not by a built string: this is the hot loop). */
function preMerge(samples: MetricSample[], now: number, graceMs: number): PreMerged {
  const deltas: PreMerged['deltas'] = new Map();
  const newest: PreMerged['newest'] = new Map();
  for (const { metric, value, timestamp } of samples) {
    const buckets = sampleBuckets(timestamp, now, graceMs);
    if (buckets.length === 0) continue;
    const bin = sketchBin(value);
    const byWindow = getOrCreate(deltas, metric, () => new Map());
    for (const { window, index, expiresAt } of buckets) {
      const byIndex = getOrCreate(byWindow, window, () => new Map());
      const delta = getOrCreate(byIndex, index, () => ({ window, index, expiresAt, stats: emptyStats() }));
      addValue(delta.stats, value, bin);
    }
    newest.set(metric, Math.max(timestamp, newest.get(metric) ?? -Infinity));
  }
  return { deltas, newest };
}

function parseMergedStats(row: string[]): BucketStats {
  const [count = 0, mean = 0, m2 = 0, sum = 0, min = Infinity, max = -Infinity] = row.slice(0, 6).map(Number);
  if (count === 0) return emptyStats();
  const bins = new Map<string, number>();
  for (let i = 6; i + 1 < row.length; i += 2) bins.set(String(row[i]), Number(row[i + 1]));
  return { count, mean, m2, sum, min, max, bins };
}

const STAT_FIELDS = new Set(['count', 'mean', 'm2', 'sum', 'min', 'max']);

/** A bucket hash as HGETALL returns it: its six statistics, and every other field a sketch bin. */
function parseStoredBucket(fields: Record<string, string>): BucketStats {
  if (fields.count === undefined) return emptyStats();
  const bins = new Map<string, number>();
  for (const name in fields) if (!STAT_FIELDS.has(name)) bins.set(name, Number(fields[name]));
  const { count, mean, m2, sum, min, max } = fields;
  return {
    count: Number(count),
    mean: luaNumber(mean),
    m2: luaNumber(m2),
    sum: luaNumber(sum),
    min: luaNumber(min),
    max: luaNumber(max),
    bins,
  };
}

/** A number as the scripts write it (`%.17g`, so an overflowed sum is "inf"), read as Lua's tonumber reads it. */
function luaNumber(text = ''): number {
  const value = Number(text);
  if (!Number.isNaN(value)) return value;
  return text.includes('inf') ? (text.startsWith('-') ? -Infinity : Infinity) : Number.NaN;
}
