// What every resolver sees, built the same way for HTTP and WebSocket operations.
import DataLoader from 'dataloader';
import type { Principal } from './auth/keys.js';
import type { Services } from './services.js';
import type { StoredEvent } from './events/model.js';

export interface Loaders {
  event: DataLoader<string, StoredEvent | null>;
}

export interface Context {
  /** The API key's owner, or null when the request carried no valid key. */
  principal: Principal | null;
  requestId: string;
  services: Services;
  loaders: Loaders;
}

export function createLoaders(services: Services): Loaders {
  return {
    event: new DataLoader(async (ids) => {
      const found = new Map((await services.events.findByIds(ids)).map((e) => [e.id, e]));
      return ids.map((id) => found.get(id) ?? null);
    }),
  };
}
