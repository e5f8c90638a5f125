// The highest role a document's fields need: what decides whether a subscription survives a refresh to a lower role.
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { requiredRole } from '../../src/auth/required-role.js';
import { schema } from '../../src/schema/index.js';

describe('requiredRole', () => {
  it('should name the admin-only field a subscription reads, through fragments too', () => {
    const direct = parse('subscription { alertTriggered { id deliveries { attempt } } }');
    expect(requiredRole(schema, direct)).toEqual({ role: 'ADMIN', field: 'Alert.deliveries' });
    const viaFragment = parse(
      'subscription { alertTriggered { ...A } } fragment A on Alert { id rule { name webhookUrls } }',
    );
    expect(requiredRole(schema, viaFragment)).toEqual({ role: 'ADMIN', field: 'AlertRule.webhookUrls' });
  });

  it('should ask only VIEWER of what viewers may read', () => {
    expect(requiredRole(schema, parse('subscription { eventPublished { id data } }')).role).toBe('VIEWER');
  });
});
