// What a field costs to read, in the two units of the per-operation read budgets (security/read-budget.ts): metric ×
// window pairs (each reads a window's buckets) and rows (each a stored item or name). A field declares it in its
// extensions from its coerced arguments, so the budget holds whether `first` came as a literal or a variable.

import { DEFAULT_PAGE_SIZE } from '../pagination.js';

export interface ReadCost {
  pairs?: (args: Record<string, unknown>) => number;
  rows?: (args: Record<string, unknown>) => number;
}

const KEY = 'jackdawReadCost';

export function readCost(cost: ReadCost): Record<string, unknown> {
  return { [KEY]: cost };
}

export function readCostOf(extensions: Readonly<Record<string, unknown>> | null | undefined): ReadCost | null {
  return (extensions?.[KEY] as ReadCost | undefined) ?? null;
}

/**
 * The rows a paged list reads: its `first`, or the default page when it is not given or given as null (a page size
 * out of range is refused by the list itself).
 */
export const pageRows = (args: Record<string, unknown>) =>
  typeof args.first === 'number' ? args.first : DEFAULT_PAGE_SIZE;
