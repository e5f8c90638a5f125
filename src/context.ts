// What every resolver sees, built the same way for HTTP and WebSocket operations.
import DataLoader from 'dataloader';
import type { AggregateQuery, MetricAggregate } from './aggregation/types.js';
import type { AlertRule } from './alerts/rules.js';
import type { AlertDelivery } from './alerts/store.js';
import type { Principal } from './auth/keys.js';
import type { StoredEvent } from './events/model.js';
import type { Services } from './services.js';

export interface Loaders {
  event: DataLoader<string, StoredEvent | null>;
  /** Every aggregate a request asks for is read in one round trip, at one instant. */
  aggregate: DataLoader<AggregateQuery, MetricAggregate, string>;
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
      return ids.map((id) => found.get(id) ?? null);
    }),
    aggregate: new DataLoader((queries) => services.aggregates.read([...queries], at), {
      cacheKeyFn: ({ metric, window }) => `${window}|${metric}`,
    }),
    alertRule: new DataLoader((ids) => services.alerts.store.getRulesByIds(ids)),
    alertDeliveries: new DataLoader((ids) => services.alerts.store.deliveriesFor(ids)),
  };
}
