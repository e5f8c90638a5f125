// What every resolver sees, built the same way for HTTP and WebSocket operations: who is asking, the application
// services, and this request's batch loaders (fresh per request, so nothing read is served stale later).
import DataLoader from 'dataloader';
import type { AggregateBatch } from './aggregation/service.js';
import type { AlertRule } from './alerts/rules.js';
import type { AlertDelivery } from './alerts/store.js';
import type { Principal } from './auth/keys.js';
import type { StoredEvent } from './events/model.js';
import type { Services } from './services.js';

export interface Loaders {
  event: DataLoader<string, StoredEvent | null>;
  /** Cursors of events read from the history or just published: one look-up in the broadcast log per request. */
  eventCursor: DataLoader<StoredEvent, string, string>;
  /** Every aggregate a request asks for is read in one round trip, at one instant. */
  aggregate: AggregateBatch;
  alertRule: DataLoader<string, AlertRule | null>;
  alertDeliveries: DataLoader<string, AlertDelivery[]>;
}

export interface Context {
  /** The API key's owner, or null when the request carried no valid key. */
  principal: Principal | null;
  requestId: string;
  services: Services;
  loaders: Loaders;
}

export function createLoaders(services: Services, at = Date.now()): Loaders {
  return {
    event: new DataLoader(async (ids) => {
      const found = new Map((await services.events.findByIds(ids)).map((e) => [e.id, e]));
      return ids.map((id) => found.get(id.toLowerCase()) ?? null);
    }),
    eventCursor: new DataLoader((events) => services.events.cursorsOf(events), { cacheKeyFn: (event) => event.id }),
    aggregate: new DataLoader((queries) => services.metrics.read(queries, at), {
      cacheKeyFn: ({ metric, window }) => `${window}|${metric}`,
    }),
    alertRule: new DataLoader((ids) => services.alerts.rulesByIds(ids)),
    alertDeliveries: new DataLoader((ids) => services.alerts.deliveriesFor(ids)),
  };
}
