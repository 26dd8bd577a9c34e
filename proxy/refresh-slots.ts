import type { ResolvedOptions } from './options';

/** Refresh tokens this process issued, and tokens it never saw (junk, or real ones after a restart). */
export type TokenPool = 'known' | 'unknown';

// How many refreshes may wait for a slot, per slot: a burst waits its turn (first come, first served),
// a flood past it is refused at once.
const LINE_PER_SLOT = 4;

type Slots = Record<TokenPool, { taken: number; line: Array<() => void> }>;

// Per process, through globalThis: Next bundles the API route and pages separately (see refresh-memory).
const SLOTS_KEY = Symbol.for('next-bff-proxy.refresh-slots');

function slotsOf(pool: TokenPool) {
  const holder = globalThis as unknown as Record<symbol, Slots | undefined>;
  holder[SLOTS_KEY] ??= { known: { taken: 0, line: [] }, unknown: { taken: 0, line: [] } };
  return holder[SLOTS_KEY][pool];
}

/**
 * A refresh slot in `pool`: at once when one of `refresh.maxConcurrent` is free, else in line (first
 * come, first served) for at most `timeoutMs`. False when the line is full or the wait ran out. A slot
 * is handed straight to the next in line when released.
 */
export function takeSlot(options: ResolvedOptions, pool: TokenPool): Promise<boolean> {
  const slots = slotsOf(pool);
  const max = options.refresh?.maxConcurrent ?? 1;
  if (slots.taken < max) {
    slots.taken += 1;
    return Promise.resolve(true);
  }
  if (slots.line.length >= max * LINE_PER_SLOT) return Promise.resolve(false);
  return new Promise((resolve) => {
    const grant = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      const at = slots.line.indexOf(grant);
      if (at !== -1) slots.line.splice(at, 1);
      resolve(false);
    }, options.timeoutMs);
    slots.line.push(grant);
  });
}

export function releaseSlot(pool: TokenPool): void {
  const slots = slotsOf(pool);
  const next = slots.line.shift();
  if (next) next();
  else slots.taken -= 1;
}
