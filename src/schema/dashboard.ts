// The live dashboard.
import { builder } from '../builder.js';
import type { Dashboard } from '../live/dashboard.js';
import { shared } from './sharing.js';

const DashboardRef = builder.objectRef<Dashboard>('Dashboard').implement({
  fields: (t) => ({
    at: t.field({ type: 'DateTime', resolve: (d) => d.at }),
    competitiveParity: t.exposeFloat('competitiveParity', {
      nullable: true,
      description: 'AVG of competitive_parity over M5',
    }),
    anomalyCount: t.exposeFloat('anomalyCount', { description: 'SUM of anomaly_count over M5' }),
    apiResponseTime: t.exposeFloat('apiResponseTime', {
      nullable: true,
      description: 'AVG of api_response_time over M5',
    }),
    benchmarkSuccessRate: t.exposeFloat('benchmarkSuccessRate', {
      description: 'SUM benchmark_success / SUM benchmark_total over M5; 0 when there were no benchmarks',
    }),
    eventsPerSecond: t.exposeFloat('eventsPerSecond', { description: 'Events received over the last M1, per second' }),
    firingAlerts: t.exposeInt('firingAlerts', { description: 'Alerts not yet resolved' }),
  }),
});

builder.queryFields((t) => ({
  dashboard: t.field({
    type: DashboardRef,
    authScopes: { viewer: true },
    resolve: (_root, _args, { services }) => services.metrics.dashboard(),
  }),
}));

builder.subscriptionFields((t) => ({
  dashboardUpdated: t.field({
    type: DashboardRef,
    extensions: shared({ snapshot: true }),
    description: 'The dashboard at once, then every DASHBOARD_INTERVAL_MS (5 s).',
    authScopes: { viewer: true },
    subscribe: (_root, _args, { services }) => services.metrics.dashboardUpdates(),
    resolve: (dashboard) => dashboard,
  }),
}));
