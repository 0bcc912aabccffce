import type { InvocationUsage } from '#core/cost/cost-model';
import { costOfInvocation } from '#core/cost/cost-model';
import { buildLedgerRow, type LedgerRow } from '#core/cost/ledger-row';
import { resolvePrices } from '#core/cost/prices';
import { PLATFORMS } from '#platforms/types';

export interface LedgerShape {
  readonly invocations: number;
  readonly groups: number;
  /** First UTC day, YYYY-MM-DD. */
  readonly from: string;
  readonly days: number;
  /** @default 1 */
  readonly seed?: number;
  /** Share of answers served from the FAQ cache. @default 0.15 */
  readonly cachedShare?: number;
}

/** mulberry32: a tiny seeded PRNG, so a generated ledger is the same on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * A realistic ledger made only through the production path (usage → costOfInvocation → buildLedgerRow): groups of
 * unequal size and activity on all four platforms, office-hours traffic (UTC 01–11, Asia), some cache hits.
 */
export function makeLedger(shape: LedgerShape): LedgerRow[] {
  const rand = random(shape.seed ?? 1);
  const prices = resolvePrices('us-east-1');
  const between = (lo: number, hi: number) => Math.round(lo + rand() * (hi - lo));
  const groups = Array.from({ length: shape.groups }, (_, g) => ({
    platform: PLATFORMS[g % PLATFORMS.length] ?? 'slack',
    tenantId: `tenant-${g % 3}`,
    chatId: `chat-${String(g + 1).padStart(2, '0')}`,
    members: 3 + (g % 6),
    // Zipf-like activity: group 1 is the busiest.
    weight: 1 / (g + 1) ** 0.8,
  }));
  const totalWeight = groups.reduce((t, g) => t + g.weight, 0);
  const pickGroup = () => {
    let r = rand() * totalWeight;
    for (const g of groups) {
      r -= g.weight;
      if (r <= 0) return g;
    }
    return groups[groups.length - 1] ?? groups[0];
  };

  const start = Date.parse(`${shape.from}T00:00:00Z`);
  const rows: LedgerRow[] = [];
  for (let i = 0; i < shape.invocations; i += 1) {
    const group = pickGroup();
    if (!group) throw new Error('no groups');
    const day = Math.floor(rand() * shape.days);
    const at = new Date(start + day * 86_400_000 + between(1, 10) * 3_600_000 + between(0, 3_599_999));
    const cached = rand() < (shape.cachedShare ?? 0.15);
    const latencyMs = cached ? between(40, 120) : between(700, 6500);
    const prompt = between(150, 1600);
    const usage: InvocationUsage = {
      apiGatewayRequests: 1,
      lambda: [
        { fn: 'webhook', memoryMb: 512, billedMs: between(25, 90), arch: 'arm64' },
        { fn: 'worker', memoryMb: 1024, billedMs: latencyMs + between(60, 300), arch: 'arm64' },
      ],
      sqsPayloadBytes: between(900, 4000),
      sqsRequests: { send: 1, receive: 1, delete: 1 },
      dynamodb: { readRequestUnits: between(2, 8) / 2, writeRequestUnits: between(3, 8) },
      logBytes: between(4000, 20_000),
      sagemaker: cached ? null : { instanceType: 'ml.g4dn.xlarge', busyMs: latencyMs - between(10, 30) },
      tokens: cached ? { prompt: 0, completion: 0 } : { prompt, completion: between(40, 700) },
    };
    rows.push(
      buildLedgerRow({
        invocationId: `inv-${String(i).padStart(5, '0')}`,
        eventId: `evt-${i}`,
        platform: group.platform,
        tenantId: group.tenantId,
        chatId: group.chatId,
        userId: `user-${between(1, group.members)}`,
        at,
        model: 'qwen2.5-7b-instruct-int8',
        latencyMs,
        cached,
        usage,
        breakdown: costOfInvocation(usage, prices),
        retentionDays: 400,
      }),
    );
  }
  return rows.sort((a, b) => a.at.localeCompare(b.at));
}
