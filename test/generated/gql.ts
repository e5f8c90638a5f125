/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query PreviewAlertRule($input: AlertRuleInput!, $since: DateTime!, $until: DateTime) {\n    previewAlertRule(input: $input, since: $since, until: $until) {\n      firedAt\n      resolvedAt\n      values\n    }\n  }\n": typeof types.PreviewAlertRuleDocument,
    "\n  mutation LabelSetsCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n      groupBy\n      conditions {\n        metric\n        labels {\n          name\n          value\n        }\n      }\n    }\n  }\n": typeof types.LabelSetsCreateRuleDocument,
    "\n  query LabelSetsRules {\n    alertRules {\n      id\n    }\n  }\n": typeof types.LabelSetsRulesDocument,
    "\n  query LabelSetsAlerts($ruleId: ID!) {\n    alerts(ruleId: $ruleId, first: 20) {\n      edges {\n        node {\n          id\n          status\n          message\n          silencedBy\n          values\n          labels {\n            name\n            value\n          }\n        }\n      }\n    }\n  }\n": typeof types.LabelSetsAlertsDocument,
    "\n  query LabelSetsAlertsByLabels($ruleId: ID!, $labels: [LabelMatcher!]) {\n    alerts(ruleId: $ruleId, labels: $labels, first: 20) {\n      edges {\n        node {\n          id\n          status\n        }\n      }\n    }\n  }\n": typeof types.LabelSetsAlertsByLabelsDocument,
    "\n  mutation LabelSetsCreateSilence($input: SilenceInput!) {\n    createSilence(input: $input) {\n      id\n      labels {\n        name\n        value\n      }\n    }\n  }\n": typeof types.LabelSetsCreateSilenceDocument,
    "\n  mutation LabelSetsExpireSilence($id: ID!) {\n    expireSilence(id: $id) {\n      id\n      active\n    }\n  }\n": typeof types.LabelSetsExpireSilenceDocument,
    "\n  query LabelSetsSilences {\n    silences {\n      id\n    }\n  }\n": typeof types.LabelSetsSilencesDocument,
    "\n  query LabelSetsLabelValues($metric: String!) {\n    metricLabelValues(metric: $metric, label: \"competitor\")\n  }\n": typeof types.LabelSetsLabelValuesDocument,
    "\n  query LabelSetsPreview($input: AlertRuleInput!, $since: DateTime!) {\n    previewAlertRule(input: $input, since: $since) {\n      firedAt\n      resolvedAt\n      values\n      labels {\n        name\n        value\n      }\n    }\n  }\n": typeof types.LabelSetsPreviewDocument,
    "\n  query LabelSetsAlertEvents {\n    events(types: [ALERT_TRIGGERED], first: 50) {\n      edges {\n        node {\n          id\n          data\n        }\n      }\n    }\n  }\n": typeof types.LabelSetsAlertEventsDocument,
    "\n  subscription LabelSetsRuleState($ruleIds: [ID!]) {\n    alertRuleState(ruleIds: $ruleIds) {\n      ruleId\n      state\n      values\n      labels {\n        name\n        value\n      }\n    }\n  }\n": typeof types.LabelSetsRuleStateDocument,
    "\n  mutation EmbeddedNoticesCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n": typeof types.EmbeddedNoticesCreateRuleDocument,
    "\n  mutation EmbeddedNoticesCreateSilence($input: SilenceInput!) {\n    createSilence(input: $input) {\n      id\n    }\n  }\n": typeof types.EmbeddedNoticesCreateSilenceDocument,
    "\n  mutation EmbeddedNoticesExpireSilence($id: ID!) {\n    expireSilence(id: $id) {\n      active\n    }\n  }\n": typeof types.EmbeddedNoticesExpireSilenceDocument,
    "\n  mutation NoticesCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n      summary\n      notifyOnResolve\n      repeatIntervalSeconds\n    }\n  }\n": typeof types.NoticesCreateRuleDocument,
    "\n  query NoticesRules {\n    alertRules {\n      id\n    }\n  }\n": typeof types.NoticesRulesDocument,
    "\n  query NoticesAlerts($ruleId: ID!) {\n    alerts(ruleId: $ruleId, first: 5) {\n      edges {\n        node {\n          id\n          status\n          message\n          silencedBy\n          acknowledgedBy\n          acknowledgeComment\n          acknowledgedAt\n        }\n      }\n    }\n  }\n": typeof types.NoticesAlertsDocument,
    "\n  mutation NoticesAcknowledge($id: ID!, $comment: String) {\n    acknowledgeAlert(id: $id, comment: $comment) {\n      id\n      status\n      acknowledgedBy\n      acknowledgeComment\n      acknowledgedAt\n    }\n  }\n": typeof types.NoticesAcknowledgeDocument,
    "\n  mutation NoticesRedeliver($id: ID!) {\n    redeliverAlert(id: $id) {\n      id\n    }\n  }\n": typeof types.NoticesRedeliverDocument,
    "\n  mutation NoticesCreateSilence($input: SilenceInput!) {\n    createSilence(input: $input) {\n      id\n      ruleIds\n      severities\n      startsAt\n      endsAt\n      comment\n      createdBy\n      active\n    }\n  }\n": typeof types.NoticesCreateSilenceDocument,
    "\n  mutation NoticesExpireSilence($id: ID!) {\n    expireSilence(id: $id) {\n      id\n      active\n    }\n  }\n": typeof types.NoticesExpireSilenceDocument,
    "\n  query NoticesSilences($active: Boolean) {\n    silences(active: $active) {\n      id\n      active\n    }\n  }\n": typeof types.NoticesSilencesDocument,
    "\n  subscription NoticesTriggered($ruleIds: [ID!]) {\n    alertTriggered(ruleIds: $ruleIds) {\n      id\n      silencedBy\n    }\n  }\n": typeof types.NoticesTriggeredDocument,
    "\n  mutation CreateRuleForState($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n      keepFiringForSeconds\n      noDataState\n    }\n  }\n": typeof types.CreateRuleForStateDocument,
    "\n  subscription AlertRuleState($ruleIds: [ID!]) {\n    alertRuleState(ruleIds: $ruleIds) {\n      ruleId\n      state\n      values\n      pendingSince\n      firesAt\n      at\n    }\n  }\n": typeof types.AlertRuleStateDocument,
    "\n  fragment AlertRuleFields on AlertRule {\n    id\n    name\n    severity\n    enabled\n    forSeconds\n    webhookUrls\n    emails\n    conditions {\n      metric\n      window\n      aggregation\n      operator\n      threshold\n    }\n  }\n": typeof types.AlertRuleFieldsFragmentDoc,
    "\n  fragment AlertFields on Alert {\n    id\n    ruleId\n    ruleName\n    severity\n    message\n    values\n    status\n    triggeredAt\n    resolvedAt\n    acknowledgedAt\n  }\n": typeof types.AlertFieldsFragmentDoc,
    "\n  mutation CreateAlertRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      ...AlertRuleFields\n    }\n  }\n": typeof types.CreateAlertRuleDocument,
    "\n  mutation UpdateAlertRule($id: ID!, $input: AlertRuleInput!) {\n    updateAlertRule(id: $id, input: $input) {\n      ...AlertRuleFields\n    }\n  }\n": typeof types.UpdateAlertRuleDocument,
    "\n  query AlertRule($id: ID!) {\n    alertRule(id: $id) {\n      id\n      name\n    }\n  }\n": typeof types.AlertRuleDocument,
    "\n  query AlertRules {\n    alertRules {\n      id\n      name\n    }\n  }\n": typeof types.AlertRulesDocument,
    "\n  mutation DeleteAlertRule($id: ID!) {\n    deleteAlertRule(id: $id)\n  }\n": typeof types.DeleteAlertRuleDocument,
    "\n  mutation AcknowledgeAlert($id: ID!) {\n    acknowledgeAlert(id: $id) {\n      id\n      status\n      acknowledgedAt\n    }\n  }\n": typeof types.AcknowledgeAlertDocument,
    "\n  query AlertsOfRule($ruleId: ID) {\n    alerts(ruleId: $ruleId) {\n      edges {\n        node {\n          ...AlertFields\n        }\n      }\n    }\n  }\n": typeof types.AlertsOfRuleDocument,
    "\n  query LatestAlertDeliveries {\n    alerts(first: 1) {\n      edges {\n        node {\n          deliveries {\n            channel\n            attempt\n            ok\n            statusCode\n          }\n        }\n      }\n    }\n  }\n": typeof types.LatestAlertDeliveriesDocument,
    "\n  query AlertEvents {\n    events(types: [ALERT_TRIGGERED]) {\n      edges {\n        node {\n          id\n          data\n        }\n      }\n    }\n  }\n": typeof types.AlertEventsDocument,
    "\n  query AlertsWithRules {\n    alerts(first: 50) {\n      edges {\n        node {\n          rule {\n            id\n            name\n          }\n        }\n      }\n    }\n  }\n": typeof types.AlertsWithRulesDocument,
    "\n  subscription AlertTriggered {\n    alertTriggered {\n      ...AlertFields\n    }\n  }\n": typeof types.AlertTriggeredDocument,
    "\n  subscription CriticalAlertTriggered {\n    alertTriggered(severities: [CRITICAL]) {\n      id\n    }\n  }\n": typeof types.CriticalAlertTriggeredDocument,
    "\n  subscription RuleAlertTriggered($ruleIds: [ID!], $after: ID) {\n    alertTriggered(ruleIds: $ruleIds, after: $after) {\n      id\n      ruleName\n      triggeredAt\n    }\n  }\n": typeof types.RuleAlertTriggeredDocument,
    "\n  subscription AlertResolved($ruleIds: [ID!]) {\n    alertResolved(ruleIds: $ruleIds) {\n      id\n      status\n      resolvedAt\n    }\n  }\n": typeof types.AlertResolvedDocument,
    "\n  mutation ApiKeysCreate($name: String!, $role: Role!, $expiresAt: DateTime, $eventTypes: [EventType!]) {\n    createApiKey(name: $name, role: $role, expiresAt: $expiresAt, eventTypes: $eventTypes) {\n      id\n      key\n      expiresAt\n      eventTypes\n    }\n  }\n": typeof types.ApiKeysCreateDocument,
    "\n  query ApiKeysList {\n    apiKeys {\n      id\n      name\n      role\n      createdAt\n      lastUsedAt\n      expiresAt\n      revokedAt\n      eventTypes\n    }\n  }\n": typeof types.ApiKeysListDocument,
    "\n  mutation ApiKeysRevoke($id: ID!) {\n    revokeApiKey(id: $id)\n  }\n": typeof types.ApiKeysRevokeDocument,
    "\n  mutation ApiKeysPublish($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      ids\n    }\n  }\n": typeof types.ApiKeysPublishDocument,
    "\n  query ApiKeysHistory {\n    events(first: 50) {\n      edges {\n        node {\n          type\n        }\n      }\n    }\n  }\n": typeof types.ApiKeysHistoryDocument,
    "\n  query ApiKeysDashboard {\n    dashboard {\n      at\n    }\n  }\n": typeof types.ApiKeysDashboardDocument,
    "\n      query LatestEvents {\n        events(first: 10) {\n          edges {\n            node {\n              id\n            }\n          }\n        }\n      }\n    ": typeof types.LatestEventsDocument,
    "\n  query DemoRuleNames {\n    alertRules {\n      name\n    }\n  }\n": typeof types.DemoRuleNamesDocument,
    "\n  query DemoAggregates {\n    aggregates(\n      metrics: [\"events_received\", \"benchmark_total\", \"api_response_time\", \"anomaly_count\", \"competitive_parity\"]\n      windows: [M5]\n    ) {\n      metric\n      count\n      sum\n    }\n  }\n": typeof types.DemoAggregatesDocument,
    "\n  query DemoEventsOfType($types: [EventType!]) {\n    events(types: $types, first: 100) {\n      edges {\n        node {\n          id\n        }\n      }\n    }\n  }\n": typeof types.DemoEventsOfTypeDocument,
    "\n  query StoredEvent($id: ID!) {\n    event(id: $id) {\n      id\n    }\n  }\n": typeof types.StoredEventDocument,
    "\n  mutation PublishOneWithCursor($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      cursor\n    }\n  }\n": typeof types.PublishOneWithCursorDocument,
    "\n  query HistoryCursors($first: Int) {\n    events(first: $first) {\n      edges {\n        node {\n          id\n          cursor\n        }\n      }\n    }\n  }\n": typeof types.HistoryCursorsDocument,
    "\n  query EventHistory($first: Int, $after: String, $types: [EventType!], $since: DateTime, $until: DateTime) {\n    events(first: $first, after: $after, types: $types, since: $since, until: $until) {\n      edges {\n        cursor\n        node {\n          id\n          type\n          timestamp\n          data\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": typeof types.EventHistoryDocument,
    "\n  query Event($id: ID!) {\n    event(id: $id) {\n      id\n      data\n    }\n  }\n": typeof types.EventDocument,
    "\n        query LatestEventId {\n          events(first: 1) {\n            edges {\n              node {\n                id\n              }\n            }\n          }\n        }\n      ": typeof types.LatestEventIdDocument,
    "\n  query MetricNamesCounted {\n    metricNames\n  }\n": typeof types.MetricNamesCountedDocument,
    "\n              subscription AlertsAfterCounted($after: ID) {\n                alertTriggered(after: $after) {\n                  id\n                }\n              }\n            ": typeof types.AlertsAfterCountedDocument,
    "\n      query HostileLabels {\n        hostile: metricLabels(metric: \"label_hostile\")\n        flood: metricLabels(metric: \"label_flood\")\n      }\n    ": typeof types.HostileLabelsDocument,
    "\n      query Typename {\n        __typename\n      }\n    ": typeof types.TypenameDocument,
    "\n      query HostileStored {\n        alertRules {\n          id\n        }\n        apiKeys {\n          name\n        }\n      }\n    ": typeof types.HostileStoredDocument,
    "\n  query AggregateLabelled($metric: String!, $labels: [LabelMatcher!]) {\n    aggregate(metric: $metric, window: M5, labels: $labels) {\n      metric\n      labels {\n        name\n        value\n      }\n      count\n      sum\n      min\n      max\n      p50\n      p99\n    }\n  }\n": typeof types.AggregateLabelledDocument,
    "\n  query AggregateGroups($metric: String!, $by: [String!]!, $labels: [LabelMatcher!], $orderBy: Aggregation, $first: Int) {\n    aggregateGroups(metric: $metric, window: M5, by: $by, labels: $labels, orderBy: $orderBy, first: $first) {\n      labels {\n        name\n        value\n      }\n      count\n      sum\n      max\n    }\n  }\n": typeof types.AggregateGroupsDocument,
    "\n  query LabelLists($metric: String!) {\n    metricLabels(metric: $metric)\n    regions: metricLabelValues(metric: $metric, label: \"region\")\n    firstHost: metricLabelValues(metric: $metric, label: \"host\", first: 1)\n  }\n": typeof types.LabelListsDocument,
    "\n  query Series($metric: String!, $labels: [LabelMatcher!]) {\n    metricSeries(metric: $metric, window: M5, labels: $labels) {\n      metric\n      window\n      labels {\n        name\n        value\n      }\n      stepSeconds\n      points {\n        at\n        count\n        sum\n        min\n        max\n        avg\n        p50\n        p95\n        p99\n      }\n    }\n  }\n": typeof types.SeriesDocument,
    "\n  subscription LabelledMetricUpdated($metric: String!, $labels: [LabelMatcher!], $minIntervalMs: Int) {\n    metricUpdated(metric: $metric, window: M5, labels: $labels, minIntervalMs: $minIntervalMs) {\n      labels {\n        name\n        value\n      }\n      count\n      sum\n    }\n  }\n": typeof types.LabelledMetricUpdatedDocument,
    "\n  subscription SeriesUpdated($metric: String!, $labels: [LabelMatcher!], $minIntervalMs: Int) {\n    metricSeriesUpdated(metric: $metric, window: M5, labels: $labels, minIntervalMs: $minIntervalMs) {\n      series {\n        stepSeconds\n        labels {\n          name\n          value\n        }\n        points {\n          at\n          count\n          sum\n          max\n        }\n      }\n      changed {\n        at\n        count\n        sum\n        max\n      }\n    }\n  }\n": typeof types.SeriesUpdatedDocument,
    "\n        query EmbeddedHistory {\n          events(first: 5) {\n            edges {\n              node {\n                id\n                data\n              }\n            }\n          }\n        }\n      ": typeof types.EmbeddedHistoryDocument,
    "\n          query AggregatesMetricMajor {\n            aggregates(metrics: [\"latency_a\", \"retried\"], windows: [M1, M5, H24]) {\n              metric\n              window\n              count\n            }\n          }\n        ": typeof types.AggregatesMetricMajorDocument,
    "\n        query MetricNames {\n          metricNames\n        }\n      ": typeof types.MetricNamesDocument,
    "\n        subscription LiveMetric {\n          metricUpdated(metric: \"live_m\", window: M1) {\n            count\n            sum\n            max\n          }\n        }\n      ": typeof types.LiveMetricDocument,
    "\n        subscription Dashboard {\n          dashboardUpdated {\n            at\n            competitiveParity\n            anomalyCount\n            apiResponseTime\n            benchmarkSuccessRate\n            eventsPerSecond\n            firingAlerts\n          }\n        }\n      ": typeof types.DashboardDocument,
    "\n      query ClusterHistory {\n        events(first: 1) {\n          edges {\n            node {\n              id\n            }\n          }\n        }\n      }\n    ": typeof types.ClusterHistoryDocument,
    "\n  query EventCount {\n    events(first: 500) {\n      edges {\n        node {\n          id\n          type\n        }\n      }\n    }\n  }\n": typeof types.EventCountDocument,
    "\n  query DashboardValues {\n    dashboard {\n      anomalyCount\n      apiResponseTime\n      competitiveParity\n    }\n  }\n": typeof types.DashboardValuesDocument,
    "\n  query HugeStats($metric: String!) {\n    aggregate(metric: $metric, window: M5) {\n      count\n      sum\n      avg\n      stddev\n    }\n  }\n": typeof types.HugeStatsDocument,
    "\n  query MetricNamesPage($first: Int, $after: String) {\n    metricNames(first: $first, after: $after)\n  }\n": typeof types.MetricNamesPageDocument,
    "\n  query PairsInAliases($metrics: [String!]!, $windows: [WindowSize!]!) {\n    a: aggregates(metrics: $metrics, windows: $windows) {\n      count\n    }\n    b: aggregates(metrics: $metrics, windows: $windows) {\n      count\n    }\n    one: aggregate(metric: \"budget_metric_0\", window: M1) {\n      count\n    }\n  }\n": typeof types.PairsInAliasesDocument,
    "\n  query RowsInAliases($n: Int) {\n    a: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    b: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    c: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    d: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    e: alerts(first: $n) {\n      edges {\n        cursor\n      }\n    }\n  }\n": typeof types.RowsInAliasesDocument,
    "\n  query AggregateSnapshot {\n    aggregates(metrics: [\"restart_a\", \"restart_b\", \"anomaly_count\"], windows: [M1, M15, H24]) {\n      ...AggregateStats\n    }\n    metricNames\n  }\n": typeof types.AggregateSnapshotDocument,
    "\n  mutation PublishAnomaly {\n    publishEvent(input: { type: ANOMALY_DETECTED, data: {} }) {\n      id\n    }\n  }\n": typeof types.PublishAnomalyDocument,
    "\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id)\n  }\n": typeof types.RevokeApiKeyDocument,
    "\n  query LatestEventIds {\n    events(first: 1) {\n      edges {\n        node {\n          id\n        }\n      }\n    }\n  }\n": typeof types.LatestEventIdsDocument,
    "\n  query AlertRuleNamesOnly {\n    alertRules {\n      name\n    }\n  }\n": typeof types.AlertRuleNamesOnlyDocument,
    "\n  query AlertRuleSecrets {\n    alertRules {\n      webhookUrls\n      emails\n    }\n  }\n": typeof types.AlertRuleSecretsDocument,
    "\n  query AlertRuleWebhookUrls {\n    alertRules {\n      webhookUrls\n    }\n  }\n": typeof types.AlertRuleWebhookUrlsDocument,
    "\n  query AlertRuleEmails {\n    alertRules {\n      emails\n    }\n  }\n": typeof types.AlertRuleEmailsDocument,
    "\n      subscription Insights {\n        eventPublished(types: [INSIGHT_GENERATED]) {\n          id\n          receivedAt\n          data\n        }\n      }\n    ": typeof types.InsightsDocument,
    "\n  mutation RevokeEdgeKey($id: ID!) {\n    revokeApiKey(id: $id)\n  }\n": typeof types.RevokeEdgeKeyDocument,
    "\n  query DeepEvents {\n    events(first: 1) {\n      edges {\n        node {\n          id\n        }\n      }\n    }\n  }\n": typeof types.DeepEventsDocument,
    "\n        mutation PublishTwoAnomalies($a: ID, $b: ID) {\n          a: publishEvent(input: { id: $a, type: ANOMALY_DETECTED, data: {} }) {\n            id\n            type\n            timestamp\n            receivedAt\n            data\n          }\n          b: publishEvent(input: { id: $b, type: ANOMALY_DETECTED, data: {} }) {\n            id\n            type\n            timestamp\n            receivedAt\n            data\n          }\n        }\n      ": typeof types.PublishTwoAnomaliesDocument,
    "\n        mutation PublishAnomalyWithId($a: ID) {\n          publishEvent(input: { id: $a, type: ANOMALY_DETECTED, data: {} }) {\n            id\n          }\n        }\n      ": typeof types.PublishAnomalyWithIdDocument,
    "\n        query FourAliases {\n          a: metricNames\n          b: metricNames\n          c: metricNames\n          d: metricNames\n        }\n      ": typeof types.FourAliasesDocument,
    "\n      query QueryTypeName {\n        __schema {\n          queryType {\n            name\n          }\n        }\n      }\n    ": typeof types.QueryTypeNameDocument,
    "\n      query SecretsHistory {\n        events(first: 1) {\n          edges {\n            node {\n              id\n            }\n          }\n        }\n      }\n    ": typeof types.SecretsHistoryDocument,
    "\n        mutation CreateProbeRule($input: AlertRuleInput!) {\n          createAlertRule(input: $input) {\n            id\n          }\n        }\n      ": typeof types.CreateProbeRuleDocument,
    "\n  mutation StatusPageCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n": typeof types.StatusPageCreateRuleDocument,
    "\n  query StatusPageAlerts($status: [AlertStatus!]) {\n    alerts(status: $status) {\n      edges {\n        node {\n          id\n          ruleName\n          status\n        }\n      }\n    }\n  }\n": typeof types.StatusPageAlertsDocument,
    "\n  mutation CreateTracedRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n": typeof types.CreateTracedRuleDocument,
    "\n  subscription TracedAlertTriggered {\n    alertTriggered {\n      id\n      ruleId\n    }\n  }\n": typeof types.TracedAlertTriggeredDocument,
    "\n  mutation WebhookQueueCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n": typeof types.WebhookQueueCreateRuleDocument,
    "\n  query WebhookQueueRules {\n    alertRules {\n      id\n    }\n  }\n": typeof types.WebhookQueueRulesDocument,
    "\n  mutation WebhookQueuePublish($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      ids\n    }\n  }\n": typeof types.WebhookQueuePublishDocument,
    "\n  query WebhookQueueDeliveries($ruleId: ID!) {\n    alerts(ruleId: $ruleId, first: 5) {\n      edges {\n        node {\n          id\n          deliveries {\n            channel\n            attempt\n            ok\n            statusCode\n            error\n          }\n        }\n      }\n    }\n  }\n": typeof types.WebhookQueueDeliveriesDocument,
    "\n  mutation PublishEvent($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      type\n      timestamp\n      receivedAt\n      data\n    }\n  }\n": typeof types.PublishEventDocument,
    "\n  mutation PublishEvents($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      accepted\n      duplicates\n      ids\n    }\n  }\n": typeof types.PublishEventsDocument,
    "\n  fragment AggregateStats on MetricAggregate {\n    metric\n    window\n    count\n    sum\n    avg\n    min\n    max\n    stddev\n    p50\n    p95\n    p99\n  }\n": typeof types.AggregateStatsFragmentDoc,
    "\n  query Aggregate($metric: String!, $window: WindowSize!) {\n    aggregate(metric: $metric, window: $window) {\n      ...AggregateStats\n      from\n      to\n    }\n  }\n": typeof types.AggregateDocument,
    "\n  mutation CreateApiKey($name: String!, $role: Role!) {\n    createApiKey(name: $name, role: $role) {\n      id\n      name\n      role\n      key\n    }\n  }\n": typeof types.CreateApiKeyDocument,
    "\n  subscription EventPublished($types: [EventType!]) {\n    eventPublished(types: $types) {\n      id\n      type\n      receivedAt\n      data\n    }\n  }\n": typeof types.EventPublishedDocument,
    "\n  subscription EventsAfter($types: [EventType!], $after: String) {\n    eventPublished(types: $types, after: $after) {\n      id\n      type\n      cursor\n    }\n  }\n": typeof types.EventsAfterDocument,
};
const documents: Documents = {
    "\n  query PreviewAlertRule($input: AlertRuleInput!, $since: DateTime!, $until: DateTime) {\n    previewAlertRule(input: $input, since: $since, until: $until) {\n      firedAt\n      resolvedAt\n      values\n    }\n  }\n": types.PreviewAlertRuleDocument,
    "\n  mutation LabelSetsCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n      groupBy\n      conditions {\n        metric\n        labels {\n          name\n          value\n        }\n      }\n    }\n  }\n": types.LabelSetsCreateRuleDocument,
    "\n  query LabelSetsRules {\n    alertRules {\n      id\n    }\n  }\n": types.LabelSetsRulesDocument,
    "\n  query LabelSetsAlerts($ruleId: ID!) {\n    alerts(ruleId: $ruleId, first: 20) {\n      edges {\n        node {\n          id\n          status\n          message\n          silencedBy\n          values\n          labels {\n            name\n            value\n          }\n        }\n      }\n    }\n  }\n": types.LabelSetsAlertsDocument,
    "\n  query LabelSetsAlertsByLabels($ruleId: ID!, $labels: [LabelMatcher!]) {\n    alerts(ruleId: $ruleId, labels: $labels, first: 20) {\n      edges {\n        node {\n          id\n          status\n        }\n      }\n    }\n  }\n": types.LabelSetsAlertsByLabelsDocument,
    "\n  mutation LabelSetsCreateSilence($input: SilenceInput!) {\n    createSilence(input: $input) {\n      id\n      labels {\n        name\n        value\n      }\n    }\n  }\n": types.LabelSetsCreateSilenceDocument,
    "\n  mutation LabelSetsExpireSilence($id: ID!) {\n    expireSilence(id: $id) {\n      id\n      active\n    }\n  }\n": types.LabelSetsExpireSilenceDocument,
    "\n  query LabelSetsSilences {\n    silences {\n      id\n    }\n  }\n": types.LabelSetsSilencesDocument,
    "\n  query LabelSetsLabelValues($metric: String!) {\n    metricLabelValues(metric: $metric, label: \"competitor\")\n  }\n": types.LabelSetsLabelValuesDocument,
    "\n  query LabelSetsPreview($input: AlertRuleInput!, $since: DateTime!) {\n    previewAlertRule(input: $input, since: $since) {\n      firedAt\n      resolvedAt\n      values\n      labels {\n        name\n        value\n      }\n    }\n  }\n": types.LabelSetsPreviewDocument,
    "\n  query LabelSetsAlertEvents {\n    events(types: [ALERT_TRIGGERED], first: 50) {\n      edges {\n        node {\n          id\n          data\n        }\n      }\n    }\n  }\n": types.LabelSetsAlertEventsDocument,
    "\n  subscription LabelSetsRuleState($ruleIds: [ID!]) {\n    alertRuleState(ruleIds: $ruleIds) {\n      ruleId\n      state\n      values\n      labels {\n        name\n        value\n      }\n    }\n  }\n": types.LabelSetsRuleStateDocument,
    "\n  mutation EmbeddedNoticesCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n": types.EmbeddedNoticesCreateRuleDocument,
    "\n  mutation EmbeddedNoticesCreateSilence($input: SilenceInput!) {\n    createSilence(input: $input) {\n      id\n    }\n  }\n": types.EmbeddedNoticesCreateSilenceDocument,
    "\n  mutation EmbeddedNoticesExpireSilence($id: ID!) {\n    expireSilence(id: $id) {\n      active\n    }\n  }\n": types.EmbeddedNoticesExpireSilenceDocument,
    "\n  mutation NoticesCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n      summary\n      notifyOnResolve\n      repeatIntervalSeconds\n    }\n  }\n": types.NoticesCreateRuleDocument,
    "\n  query NoticesRules {\n    alertRules {\n      id\n    }\n  }\n": types.NoticesRulesDocument,
    "\n  query NoticesAlerts($ruleId: ID!) {\n    alerts(ruleId: $ruleId, first: 5) {\n      edges {\n        node {\n          id\n          status\n          message\n          silencedBy\n          acknowledgedBy\n          acknowledgeComment\n          acknowledgedAt\n        }\n      }\n    }\n  }\n": types.NoticesAlertsDocument,
    "\n  mutation NoticesAcknowledge($id: ID!, $comment: String) {\n    acknowledgeAlert(id: $id, comment: $comment) {\n      id\n      status\n      acknowledgedBy\n      acknowledgeComment\n      acknowledgedAt\n    }\n  }\n": types.NoticesAcknowledgeDocument,
    "\n  mutation NoticesRedeliver($id: ID!) {\n    redeliverAlert(id: $id) {\n      id\n    }\n  }\n": types.NoticesRedeliverDocument,
    "\n  mutation NoticesCreateSilence($input: SilenceInput!) {\n    createSilence(input: $input) {\n      id\n      ruleIds\n      severities\n      startsAt\n      endsAt\n      comment\n      createdBy\n      active\n    }\n  }\n": types.NoticesCreateSilenceDocument,
    "\n  mutation NoticesExpireSilence($id: ID!) {\n    expireSilence(id: $id) {\n      id\n      active\n    }\n  }\n": types.NoticesExpireSilenceDocument,
    "\n  query NoticesSilences($active: Boolean) {\n    silences(active: $active) {\n      id\n      active\n    }\n  }\n": types.NoticesSilencesDocument,
    "\n  subscription NoticesTriggered($ruleIds: [ID!]) {\n    alertTriggered(ruleIds: $ruleIds) {\n      id\n      silencedBy\n    }\n  }\n": types.NoticesTriggeredDocument,
    "\n  mutation CreateRuleForState($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n      keepFiringForSeconds\n      noDataState\n    }\n  }\n": types.CreateRuleForStateDocument,
    "\n  subscription AlertRuleState($ruleIds: [ID!]) {\n    alertRuleState(ruleIds: $ruleIds) {\n      ruleId\n      state\n      values\n      pendingSince\n      firesAt\n      at\n    }\n  }\n": types.AlertRuleStateDocument,
    "\n  fragment AlertRuleFields on AlertRule {\n    id\n    name\n    severity\n    enabled\n    forSeconds\n    webhookUrls\n    emails\n    conditions {\n      metric\n      window\n      aggregation\n      operator\n      threshold\n    }\n  }\n": types.AlertRuleFieldsFragmentDoc,
    "\n  fragment AlertFields on Alert {\n    id\n    ruleId\n    ruleName\n    severity\n    message\n    values\n    status\n    triggeredAt\n    resolvedAt\n    acknowledgedAt\n  }\n": types.AlertFieldsFragmentDoc,
    "\n  mutation CreateAlertRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      ...AlertRuleFields\n    }\n  }\n": types.CreateAlertRuleDocument,
    "\n  mutation UpdateAlertRule($id: ID!, $input: AlertRuleInput!) {\n    updateAlertRule(id: $id, input: $input) {\n      ...AlertRuleFields\n    }\n  }\n": types.UpdateAlertRuleDocument,
    "\n  query AlertRule($id: ID!) {\n    alertRule(id: $id) {\n      id\n      name\n    }\n  }\n": types.AlertRuleDocument,
    "\n  query AlertRules {\n    alertRules {\n      id\n      name\n    }\n  }\n": types.AlertRulesDocument,
    "\n  mutation DeleteAlertRule($id: ID!) {\n    deleteAlertRule(id: $id)\n  }\n": types.DeleteAlertRuleDocument,
    "\n  mutation AcknowledgeAlert($id: ID!) {\n    acknowledgeAlert(id: $id) {\n      id\n      status\n      acknowledgedAt\n    }\n  }\n": types.AcknowledgeAlertDocument,
    "\n  query AlertsOfRule($ruleId: ID) {\n    alerts(ruleId: $ruleId) {\n      edges {\n        node {\n          ...AlertFields\n        }\n      }\n    }\n  }\n": types.AlertsOfRuleDocument,
    "\n  query LatestAlertDeliveries {\n    alerts(first: 1) {\n      edges {\n        node {\n          deliveries {\n            channel\n            attempt\n            ok\n            statusCode\n          }\n        }\n      }\n    }\n  }\n": types.LatestAlertDeliveriesDocument,
    "\n  query AlertEvents {\n    events(types: [ALERT_TRIGGERED]) {\n      edges {\n        node {\n          id\n          data\n        }\n      }\n    }\n  }\n": types.AlertEventsDocument,
    "\n  query AlertsWithRules {\n    alerts(first: 50) {\n      edges {\n        node {\n          rule {\n            id\n            name\n          }\n        }\n      }\n    }\n  }\n": types.AlertsWithRulesDocument,
    "\n  subscription AlertTriggered {\n    alertTriggered {\n      ...AlertFields\n    }\n  }\n": types.AlertTriggeredDocument,
    "\n  subscription CriticalAlertTriggered {\n    alertTriggered(severities: [CRITICAL]) {\n      id\n    }\n  }\n": types.CriticalAlertTriggeredDocument,
    "\n  subscription RuleAlertTriggered($ruleIds: [ID!], $after: ID) {\n    alertTriggered(ruleIds: $ruleIds, after: $after) {\n      id\n      ruleName\n      triggeredAt\n    }\n  }\n": types.RuleAlertTriggeredDocument,
    "\n  subscription AlertResolved($ruleIds: [ID!]) {\n    alertResolved(ruleIds: $ruleIds) {\n      id\n      status\n      resolvedAt\n    }\n  }\n": types.AlertResolvedDocument,
    "\n  mutation ApiKeysCreate($name: String!, $role: Role!, $expiresAt: DateTime, $eventTypes: [EventType!]) {\n    createApiKey(name: $name, role: $role, expiresAt: $expiresAt, eventTypes: $eventTypes) {\n      id\n      key\n      expiresAt\n      eventTypes\n    }\n  }\n": types.ApiKeysCreateDocument,
    "\n  query ApiKeysList {\n    apiKeys {\n      id\n      name\n      role\n      createdAt\n      lastUsedAt\n      expiresAt\n      revokedAt\n      eventTypes\n    }\n  }\n": types.ApiKeysListDocument,
    "\n  mutation ApiKeysRevoke($id: ID!) {\n    revokeApiKey(id: $id)\n  }\n": types.ApiKeysRevokeDocument,
    "\n  mutation ApiKeysPublish($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      ids\n    }\n  }\n": types.ApiKeysPublishDocument,
    "\n  query ApiKeysHistory {\n    events(first: 50) {\n      edges {\n        node {\n          type\n        }\n      }\n    }\n  }\n": types.ApiKeysHistoryDocument,
    "\n  query ApiKeysDashboard {\n    dashboard {\n      at\n    }\n  }\n": types.ApiKeysDashboardDocument,
    "\n      query LatestEvents {\n        events(first: 10) {\n          edges {\n            node {\n              id\n            }\n          }\n        }\n      }\n    ": types.LatestEventsDocument,
    "\n  query DemoRuleNames {\n    alertRules {\n      name\n    }\n  }\n": types.DemoRuleNamesDocument,
    "\n  query DemoAggregates {\n    aggregates(\n      metrics: [\"events_received\", \"benchmark_total\", \"api_response_time\", \"anomaly_count\", \"competitive_parity\"]\n      windows: [M5]\n    ) {\n      metric\n      count\n      sum\n    }\n  }\n": types.DemoAggregatesDocument,
    "\n  query DemoEventsOfType($types: [EventType!]) {\n    events(types: $types, first: 100) {\n      edges {\n        node {\n          id\n        }\n      }\n    }\n  }\n": types.DemoEventsOfTypeDocument,
    "\n  query StoredEvent($id: ID!) {\n    event(id: $id) {\n      id\n    }\n  }\n": types.StoredEventDocument,
    "\n  mutation PublishOneWithCursor($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      cursor\n    }\n  }\n": types.PublishOneWithCursorDocument,
    "\n  query HistoryCursors($first: Int) {\n    events(first: $first) {\n      edges {\n        node {\n          id\n          cursor\n        }\n      }\n    }\n  }\n": types.HistoryCursorsDocument,
    "\n  query EventHistory($first: Int, $after: String, $types: [EventType!], $since: DateTime, $until: DateTime) {\n    events(first: $first, after: $after, types: $types, since: $since, until: $until) {\n      edges {\n        cursor\n        node {\n          id\n          type\n          timestamp\n          data\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": types.EventHistoryDocument,
    "\n  query Event($id: ID!) {\n    event(id: $id) {\n      id\n      data\n    }\n  }\n": types.EventDocument,
    "\n        query LatestEventId {\n          events(first: 1) {\n            edges {\n              node {\n                id\n              }\n            }\n          }\n        }\n      ": types.LatestEventIdDocument,
    "\n  query MetricNamesCounted {\n    metricNames\n  }\n": types.MetricNamesCountedDocument,
    "\n              subscription AlertsAfterCounted($after: ID) {\n                alertTriggered(after: $after) {\n                  id\n                }\n              }\n            ": types.AlertsAfterCountedDocument,
    "\n      query HostileLabels {\n        hostile: metricLabels(metric: \"label_hostile\")\n        flood: metricLabels(metric: \"label_flood\")\n      }\n    ": types.HostileLabelsDocument,
    "\n      query Typename {\n        __typename\n      }\n    ": types.TypenameDocument,
    "\n      query HostileStored {\n        alertRules {\n          id\n        }\n        apiKeys {\n          name\n        }\n      }\n    ": types.HostileStoredDocument,
    "\n  query AggregateLabelled($metric: String!, $labels: [LabelMatcher!]) {\n    aggregate(metric: $metric, window: M5, labels: $labels) {\n      metric\n      labels {\n        name\n        value\n      }\n      count\n      sum\n      min\n      max\n      p50\n      p99\n    }\n  }\n": types.AggregateLabelledDocument,
    "\n  query AggregateGroups($metric: String!, $by: [String!]!, $labels: [LabelMatcher!], $orderBy: Aggregation, $first: Int) {\n    aggregateGroups(metric: $metric, window: M5, by: $by, labels: $labels, orderBy: $orderBy, first: $first) {\n      labels {\n        name\n        value\n      }\n      count\n      sum\n      max\n    }\n  }\n": types.AggregateGroupsDocument,
    "\n  query LabelLists($metric: String!) {\n    metricLabels(metric: $metric)\n    regions: metricLabelValues(metric: $metric, label: \"region\")\n    firstHost: metricLabelValues(metric: $metric, label: \"host\", first: 1)\n  }\n": types.LabelListsDocument,
    "\n  query Series($metric: String!, $labels: [LabelMatcher!]) {\n    metricSeries(metric: $metric, window: M5, labels: $labels) {\n      metric\n      window\n      labels {\n        name\n        value\n      }\n      stepSeconds\n      points {\n        at\n        count\n        sum\n        min\n        max\n        avg\n        p50\n        p95\n        p99\n      }\n    }\n  }\n": types.SeriesDocument,
    "\n  subscription LabelledMetricUpdated($metric: String!, $labels: [LabelMatcher!], $minIntervalMs: Int) {\n    metricUpdated(metric: $metric, window: M5, labels: $labels, minIntervalMs: $minIntervalMs) {\n      labels {\n        name\n        value\n      }\n      count\n      sum\n    }\n  }\n": types.LabelledMetricUpdatedDocument,
    "\n  subscription SeriesUpdated($metric: String!, $labels: [LabelMatcher!], $minIntervalMs: Int) {\n    metricSeriesUpdated(metric: $metric, window: M5, labels: $labels, minIntervalMs: $minIntervalMs) {\n      series {\n        stepSeconds\n        labels {\n          name\n          value\n        }\n        points {\n          at\n          count\n          sum\n          max\n        }\n      }\n      changed {\n        at\n        count\n        sum\n        max\n      }\n    }\n  }\n": types.SeriesUpdatedDocument,
    "\n        query EmbeddedHistory {\n          events(first: 5) {\n            edges {\n              node {\n                id\n                data\n              }\n            }\n          }\n        }\n      ": types.EmbeddedHistoryDocument,
    "\n          query AggregatesMetricMajor {\n            aggregates(metrics: [\"latency_a\", \"retried\"], windows: [M1, M5, H24]) {\n              metric\n              window\n              count\n            }\n          }\n        ": types.AggregatesMetricMajorDocument,
    "\n        query MetricNames {\n          metricNames\n        }\n      ": types.MetricNamesDocument,
    "\n        subscription LiveMetric {\n          metricUpdated(metric: \"live_m\", window: M1) {\n            count\n            sum\n            max\n          }\n        }\n      ": types.LiveMetricDocument,
    "\n        subscription Dashboard {\n          dashboardUpdated {\n            at\n            competitiveParity\n            anomalyCount\n            apiResponseTime\n            benchmarkSuccessRate\n            eventsPerSecond\n            firingAlerts\n          }\n        }\n      ": types.DashboardDocument,
    "\n      query ClusterHistory {\n        events(first: 1) {\n          edges {\n            node {\n              id\n            }\n          }\n        }\n      }\n    ": types.ClusterHistoryDocument,
    "\n  query EventCount {\n    events(first: 500) {\n      edges {\n        node {\n          id\n          type\n        }\n      }\n    }\n  }\n": types.EventCountDocument,
    "\n  query DashboardValues {\n    dashboard {\n      anomalyCount\n      apiResponseTime\n      competitiveParity\n    }\n  }\n": types.DashboardValuesDocument,
    "\n  query HugeStats($metric: String!) {\n    aggregate(metric: $metric, window: M5) {\n      count\n      sum\n      avg\n      stddev\n    }\n  }\n": types.HugeStatsDocument,
    "\n  query MetricNamesPage($first: Int, $after: String) {\n    metricNames(first: $first, after: $after)\n  }\n": types.MetricNamesPageDocument,
    "\n  query PairsInAliases($metrics: [String!]!, $windows: [WindowSize!]!) {\n    a: aggregates(metrics: $metrics, windows: $windows) {\n      count\n    }\n    b: aggregates(metrics: $metrics, windows: $windows) {\n      count\n    }\n    one: aggregate(metric: \"budget_metric_0\", window: M1) {\n      count\n    }\n  }\n": types.PairsInAliasesDocument,
    "\n  query RowsInAliases($n: Int) {\n    a: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    b: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    c: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    d: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    e: alerts(first: $n) {\n      edges {\n        cursor\n      }\n    }\n  }\n": types.RowsInAliasesDocument,
    "\n  query AggregateSnapshot {\n    aggregates(metrics: [\"restart_a\", \"restart_b\", \"anomaly_count\"], windows: [M1, M15, H24]) {\n      ...AggregateStats\n    }\n    metricNames\n  }\n": types.AggregateSnapshotDocument,
    "\n  mutation PublishAnomaly {\n    publishEvent(input: { type: ANOMALY_DETECTED, data: {} }) {\n      id\n    }\n  }\n": types.PublishAnomalyDocument,
    "\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id)\n  }\n": types.RevokeApiKeyDocument,
    "\n  query LatestEventIds {\n    events(first: 1) {\n      edges {\n        node {\n          id\n        }\n      }\n    }\n  }\n": types.LatestEventIdsDocument,
    "\n  query AlertRuleNamesOnly {\n    alertRules {\n      name\n    }\n  }\n": types.AlertRuleNamesOnlyDocument,
    "\n  query AlertRuleSecrets {\n    alertRules {\n      webhookUrls\n      emails\n    }\n  }\n": types.AlertRuleSecretsDocument,
    "\n  query AlertRuleWebhookUrls {\n    alertRules {\n      webhookUrls\n    }\n  }\n": types.AlertRuleWebhookUrlsDocument,
    "\n  query AlertRuleEmails {\n    alertRules {\n      emails\n    }\n  }\n": types.AlertRuleEmailsDocument,
    "\n      subscription Insights {\n        eventPublished(types: [INSIGHT_GENERATED]) {\n          id\n          receivedAt\n          data\n        }\n      }\n    ": types.InsightsDocument,
    "\n  mutation RevokeEdgeKey($id: ID!) {\n    revokeApiKey(id: $id)\n  }\n": types.RevokeEdgeKeyDocument,
    "\n  query DeepEvents {\n    events(first: 1) {\n      edges {\n        node {\n          id\n        }\n      }\n    }\n  }\n": types.DeepEventsDocument,
    "\n        mutation PublishTwoAnomalies($a: ID, $b: ID) {\n          a: publishEvent(input: { id: $a, type: ANOMALY_DETECTED, data: {} }) {\n            id\n            type\n            timestamp\n            receivedAt\n            data\n          }\n          b: publishEvent(input: { id: $b, type: ANOMALY_DETECTED, data: {} }) {\n            id\n            type\n            timestamp\n            receivedAt\n            data\n          }\n        }\n      ": types.PublishTwoAnomaliesDocument,
    "\n        mutation PublishAnomalyWithId($a: ID) {\n          publishEvent(input: { id: $a, type: ANOMALY_DETECTED, data: {} }) {\n            id\n          }\n        }\n      ": types.PublishAnomalyWithIdDocument,
    "\n        query FourAliases {\n          a: metricNames\n          b: metricNames\n          c: metricNames\n          d: metricNames\n        }\n      ": types.FourAliasesDocument,
    "\n      query QueryTypeName {\n        __schema {\n          queryType {\n            name\n          }\n        }\n      }\n    ": types.QueryTypeNameDocument,
    "\n      query SecretsHistory {\n        events(first: 1) {\n          edges {\n            node {\n              id\n            }\n          }\n        }\n      }\n    ": types.SecretsHistoryDocument,
    "\n        mutation CreateProbeRule($input: AlertRuleInput!) {\n          createAlertRule(input: $input) {\n            id\n          }\n        }\n      ": types.CreateProbeRuleDocument,
    "\n  mutation StatusPageCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n": types.StatusPageCreateRuleDocument,
    "\n  query StatusPageAlerts($status: [AlertStatus!]) {\n    alerts(status: $status) {\n      edges {\n        node {\n          id\n          ruleName\n          status\n        }\n      }\n    }\n  }\n": types.StatusPageAlertsDocument,
    "\n  mutation CreateTracedRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n": types.CreateTracedRuleDocument,
    "\n  subscription TracedAlertTriggered {\n    alertTriggered {\n      id\n      ruleId\n    }\n  }\n": types.TracedAlertTriggeredDocument,
    "\n  mutation WebhookQueueCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n": types.WebhookQueueCreateRuleDocument,
    "\n  query WebhookQueueRules {\n    alertRules {\n      id\n    }\n  }\n": types.WebhookQueueRulesDocument,
    "\n  mutation WebhookQueuePublish($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      ids\n    }\n  }\n": types.WebhookQueuePublishDocument,
    "\n  query WebhookQueueDeliveries($ruleId: ID!) {\n    alerts(ruleId: $ruleId, first: 5) {\n      edges {\n        node {\n          id\n          deliveries {\n            channel\n            attempt\n            ok\n            statusCode\n            error\n          }\n        }\n      }\n    }\n  }\n": types.WebhookQueueDeliveriesDocument,
    "\n  mutation PublishEvent($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      type\n      timestamp\n      receivedAt\n      data\n    }\n  }\n": types.PublishEventDocument,
    "\n  mutation PublishEvents($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      accepted\n      duplicates\n      ids\n    }\n  }\n": types.PublishEventsDocument,
    "\n  fragment AggregateStats on MetricAggregate {\n    metric\n    window\n    count\n    sum\n    avg\n    min\n    max\n    stddev\n    p50\n    p95\n    p99\n  }\n": types.AggregateStatsFragmentDoc,
    "\n  query Aggregate($metric: String!, $window: WindowSize!) {\n    aggregate(metric: $metric, window: $window) {\n      ...AggregateStats\n      from\n      to\n    }\n  }\n": types.AggregateDocument,
    "\n  mutation CreateApiKey($name: String!, $role: Role!) {\n    createApiKey(name: $name, role: $role) {\n      id\n      name\n      role\n      key\n    }\n  }\n": types.CreateApiKeyDocument,
    "\n  subscription EventPublished($types: [EventType!]) {\n    eventPublished(types: $types) {\n      id\n      type\n      receivedAt\n      data\n    }\n  }\n": types.EventPublishedDocument,
    "\n  subscription EventsAfter($types: [EventType!], $after: String) {\n    eventPublished(types: $types, after: $after) {\n      id\n      type\n      cursor\n    }\n  }\n": types.EventsAfterDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query PreviewAlertRule($input: AlertRuleInput!, $since: DateTime!, $until: DateTime) {\n    previewAlertRule(input: $input, since: $since, until: $until) {\n      firedAt\n      resolvedAt\n      values\n    }\n  }\n"): (typeof documents)["\n  query PreviewAlertRule($input: AlertRuleInput!, $since: DateTime!, $until: DateTime) {\n    previewAlertRule(input: $input, since: $since, until: $until) {\n      firedAt\n      resolvedAt\n      values\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation LabelSetsCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n      groupBy\n      conditions {\n        metric\n        labels {\n          name\n          value\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation LabelSetsCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n      groupBy\n      conditions {\n        metric\n        labels {\n          name\n          value\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query LabelSetsRules {\n    alertRules {\n      id\n    }\n  }\n"): (typeof documents)["\n  query LabelSetsRules {\n    alertRules {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query LabelSetsAlerts($ruleId: ID!) {\n    alerts(ruleId: $ruleId, first: 20) {\n      edges {\n        node {\n          id\n          status\n          message\n          silencedBy\n          values\n          labels {\n            name\n            value\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query LabelSetsAlerts($ruleId: ID!) {\n    alerts(ruleId: $ruleId, first: 20) {\n      edges {\n        node {\n          id\n          status\n          message\n          silencedBy\n          values\n          labels {\n            name\n            value\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query LabelSetsAlertsByLabels($ruleId: ID!, $labels: [LabelMatcher!]) {\n    alerts(ruleId: $ruleId, labels: $labels, first: 20) {\n      edges {\n        node {\n          id\n          status\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query LabelSetsAlertsByLabels($ruleId: ID!, $labels: [LabelMatcher!]) {\n    alerts(ruleId: $ruleId, labels: $labels, first: 20) {\n      edges {\n        node {\n          id\n          status\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation LabelSetsCreateSilence($input: SilenceInput!) {\n    createSilence(input: $input) {\n      id\n      labels {\n        name\n        value\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation LabelSetsCreateSilence($input: SilenceInput!) {\n    createSilence(input: $input) {\n      id\n      labels {\n        name\n        value\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation LabelSetsExpireSilence($id: ID!) {\n    expireSilence(id: $id) {\n      id\n      active\n    }\n  }\n"): (typeof documents)["\n  mutation LabelSetsExpireSilence($id: ID!) {\n    expireSilence(id: $id) {\n      id\n      active\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query LabelSetsSilences {\n    silences {\n      id\n    }\n  }\n"): (typeof documents)["\n  query LabelSetsSilences {\n    silences {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query LabelSetsLabelValues($metric: String!) {\n    metricLabelValues(metric: $metric, label: \"competitor\")\n  }\n"): (typeof documents)["\n  query LabelSetsLabelValues($metric: String!) {\n    metricLabelValues(metric: $metric, label: \"competitor\")\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query LabelSetsPreview($input: AlertRuleInput!, $since: DateTime!) {\n    previewAlertRule(input: $input, since: $since) {\n      firedAt\n      resolvedAt\n      values\n      labels {\n        name\n        value\n      }\n    }\n  }\n"): (typeof documents)["\n  query LabelSetsPreview($input: AlertRuleInput!, $since: DateTime!) {\n    previewAlertRule(input: $input, since: $since) {\n      firedAt\n      resolvedAt\n      values\n      labels {\n        name\n        value\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query LabelSetsAlertEvents {\n    events(types: [ALERT_TRIGGERED], first: 50) {\n      edges {\n        node {\n          id\n          data\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query LabelSetsAlertEvents {\n    events(types: [ALERT_TRIGGERED], first: 50) {\n      edges {\n        node {\n          id\n          data\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription LabelSetsRuleState($ruleIds: [ID!]) {\n    alertRuleState(ruleIds: $ruleIds) {\n      ruleId\n      state\n      values\n      labels {\n        name\n        value\n      }\n    }\n  }\n"): (typeof documents)["\n  subscription LabelSetsRuleState($ruleIds: [ID!]) {\n    alertRuleState(ruleIds: $ruleIds) {\n      ruleId\n      state\n      values\n      labels {\n        name\n        value\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EmbeddedNoticesCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n"): (typeof documents)["\n  mutation EmbeddedNoticesCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EmbeddedNoticesCreateSilence($input: SilenceInput!) {\n    createSilence(input: $input) {\n      id\n    }\n  }\n"): (typeof documents)["\n  mutation EmbeddedNoticesCreateSilence($input: SilenceInput!) {\n    createSilence(input: $input) {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EmbeddedNoticesExpireSilence($id: ID!) {\n    expireSilence(id: $id) {\n      active\n    }\n  }\n"): (typeof documents)["\n  mutation EmbeddedNoticesExpireSilence($id: ID!) {\n    expireSilence(id: $id) {\n      active\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation NoticesCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n      summary\n      notifyOnResolve\n      repeatIntervalSeconds\n    }\n  }\n"): (typeof documents)["\n  mutation NoticesCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n      summary\n      notifyOnResolve\n      repeatIntervalSeconds\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query NoticesRules {\n    alertRules {\n      id\n    }\n  }\n"): (typeof documents)["\n  query NoticesRules {\n    alertRules {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query NoticesAlerts($ruleId: ID!) {\n    alerts(ruleId: $ruleId, first: 5) {\n      edges {\n        node {\n          id\n          status\n          message\n          silencedBy\n          acknowledgedBy\n          acknowledgeComment\n          acknowledgedAt\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query NoticesAlerts($ruleId: ID!) {\n    alerts(ruleId: $ruleId, first: 5) {\n      edges {\n        node {\n          id\n          status\n          message\n          silencedBy\n          acknowledgedBy\n          acknowledgeComment\n          acknowledgedAt\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation NoticesAcknowledge($id: ID!, $comment: String) {\n    acknowledgeAlert(id: $id, comment: $comment) {\n      id\n      status\n      acknowledgedBy\n      acknowledgeComment\n      acknowledgedAt\n    }\n  }\n"): (typeof documents)["\n  mutation NoticesAcknowledge($id: ID!, $comment: String) {\n    acknowledgeAlert(id: $id, comment: $comment) {\n      id\n      status\n      acknowledgedBy\n      acknowledgeComment\n      acknowledgedAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation NoticesRedeliver($id: ID!) {\n    redeliverAlert(id: $id) {\n      id\n    }\n  }\n"): (typeof documents)["\n  mutation NoticesRedeliver($id: ID!) {\n    redeliverAlert(id: $id) {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation NoticesCreateSilence($input: SilenceInput!) {\n    createSilence(input: $input) {\n      id\n      ruleIds\n      severities\n      startsAt\n      endsAt\n      comment\n      createdBy\n      active\n    }\n  }\n"): (typeof documents)["\n  mutation NoticesCreateSilence($input: SilenceInput!) {\n    createSilence(input: $input) {\n      id\n      ruleIds\n      severities\n      startsAt\n      endsAt\n      comment\n      createdBy\n      active\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation NoticesExpireSilence($id: ID!) {\n    expireSilence(id: $id) {\n      id\n      active\n    }\n  }\n"): (typeof documents)["\n  mutation NoticesExpireSilence($id: ID!) {\n    expireSilence(id: $id) {\n      id\n      active\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query NoticesSilences($active: Boolean) {\n    silences(active: $active) {\n      id\n      active\n    }\n  }\n"): (typeof documents)["\n  query NoticesSilences($active: Boolean) {\n    silences(active: $active) {\n      id\n      active\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription NoticesTriggered($ruleIds: [ID!]) {\n    alertTriggered(ruleIds: $ruleIds) {\n      id\n      silencedBy\n    }\n  }\n"): (typeof documents)["\n  subscription NoticesTriggered($ruleIds: [ID!]) {\n    alertTriggered(ruleIds: $ruleIds) {\n      id\n      silencedBy\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateRuleForState($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n      keepFiringForSeconds\n      noDataState\n    }\n  }\n"): (typeof documents)["\n  mutation CreateRuleForState($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n      keepFiringForSeconds\n      noDataState\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription AlertRuleState($ruleIds: [ID!]) {\n    alertRuleState(ruleIds: $ruleIds) {\n      ruleId\n      state\n      values\n      pendingSince\n      firesAt\n      at\n    }\n  }\n"): (typeof documents)["\n  subscription AlertRuleState($ruleIds: [ID!]) {\n    alertRuleState(ruleIds: $ruleIds) {\n      ruleId\n      state\n      values\n      pendingSince\n      firesAt\n      at\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment AlertRuleFields on AlertRule {\n    id\n    name\n    severity\n    enabled\n    forSeconds\n    webhookUrls\n    emails\n    conditions {\n      metric\n      window\n      aggregation\n      operator\n      threshold\n    }\n  }\n"): (typeof documents)["\n  fragment AlertRuleFields on AlertRule {\n    id\n    name\n    severity\n    enabled\n    forSeconds\n    webhookUrls\n    emails\n    conditions {\n      metric\n      window\n      aggregation\n      operator\n      threshold\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment AlertFields on Alert {\n    id\n    ruleId\n    ruleName\n    severity\n    message\n    values\n    status\n    triggeredAt\n    resolvedAt\n    acknowledgedAt\n  }\n"): (typeof documents)["\n  fragment AlertFields on Alert {\n    id\n    ruleId\n    ruleName\n    severity\n    message\n    values\n    status\n    triggeredAt\n    resolvedAt\n    acknowledgedAt\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateAlertRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      ...AlertRuleFields\n    }\n  }\n"): (typeof documents)["\n  mutation CreateAlertRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      ...AlertRuleFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateAlertRule($id: ID!, $input: AlertRuleInput!) {\n    updateAlertRule(id: $id, input: $input) {\n      ...AlertRuleFields\n    }\n  }\n"): (typeof documents)["\n  mutation UpdateAlertRule($id: ID!, $input: AlertRuleInput!) {\n    updateAlertRule(id: $id, input: $input) {\n      ...AlertRuleFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AlertRule($id: ID!) {\n    alertRule(id: $id) {\n      id\n      name\n    }\n  }\n"): (typeof documents)["\n  query AlertRule($id: ID!) {\n    alertRule(id: $id) {\n      id\n      name\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AlertRules {\n    alertRules {\n      id\n      name\n    }\n  }\n"): (typeof documents)["\n  query AlertRules {\n    alertRules {\n      id\n      name\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteAlertRule($id: ID!) {\n    deleteAlertRule(id: $id)\n  }\n"): (typeof documents)["\n  mutation DeleteAlertRule($id: ID!) {\n    deleteAlertRule(id: $id)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AcknowledgeAlert($id: ID!) {\n    acknowledgeAlert(id: $id) {\n      id\n      status\n      acknowledgedAt\n    }\n  }\n"): (typeof documents)["\n  mutation AcknowledgeAlert($id: ID!) {\n    acknowledgeAlert(id: $id) {\n      id\n      status\n      acknowledgedAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AlertsOfRule($ruleId: ID) {\n    alerts(ruleId: $ruleId) {\n      edges {\n        node {\n          ...AlertFields\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query AlertsOfRule($ruleId: ID) {\n    alerts(ruleId: $ruleId) {\n      edges {\n        node {\n          ...AlertFields\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query LatestAlertDeliveries {\n    alerts(first: 1) {\n      edges {\n        node {\n          deliveries {\n            channel\n            attempt\n            ok\n            statusCode\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query LatestAlertDeliveries {\n    alerts(first: 1) {\n      edges {\n        node {\n          deliveries {\n            channel\n            attempt\n            ok\n            statusCode\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AlertEvents {\n    events(types: [ALERT_TRIGGERED]) {\n      edges {\n        node {\n          id\n          data\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query AlertEvents {\n    events(types: [ALERT_TRIGGERED]) {\n      edges {\n        node {\n          id\n          data\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AlertsWithRules {\n    alerts(first: 50) {\n      edges {\n        node {\n          rule {\n            id\n            name\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query AlertsWithRules {\n    alerts(first: 50) {\n      edges {\n        node {\n          rule {\n            id\n            name\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription AlertTriggered {\n    alertTriggered {\n      ...AlertFields\n    }\n  }\n"): (typeof documents)["\n  subscription AlertTriggered {\n    alertTriggered {\n      ...AlertFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription CriticalAlertTriggered {\n    alertTriggered(severities: [CRITICAL]) {\n      id\n    }\n  }\n"): (typeof documents)["\n  subscription CriticalAlertTriggered {\n    alertTriggered(severities: [CRITICAL]) {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription RuleAlertTriggered($ruleIds: [ID!], $after: ID) {\n    alertTriggered(ruleIds: $ruleIds, after: $after) {\n      id\n      ruleName\n      triggeredAt\n    }\n  }\n"): (typeof documents)["\n  subscription RuleAlertTriggered($ruleIds: [ID!], $after: ID) {\n    alertTriggered(ruleIds: $ruleIds, after: $after) {\n      id\n      ruleName\n      triggeredAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription AlertResolved($ruleIds: [ID!]) {\n    alertResolved(ruleIds: $ruleIds) {\n      id\n      status\n      resolvedAt\n    }\n  }\n"): (typeof documents)["\n  subscription AlertResolved($ruleIds: [ID!]) {\n    alertResolved(ruleIds: $ruleIds) {\n      id\n      status\n      resolvedAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ApiKeysCreate($name: String!, $role: Role!, $expiresAt: DateTime, $eventTypes: [EventType!]) {\n    createApiKey(name: $name, role: $role, expiresAt: $expiresAt, eventTypes: $eventTypes) {\n      id\n      key\n      expiresAt\n      eventTypes\n    }\n  }\n"): (typeof documents)["\n  mutation ApiKeysCreate($name: String!, $role: Role!, $expiresAt: DateTime, $eventTypes: [EventType!]) {\n    createApiKey(name: $name, role: $role, expiresAt: $expiresAt, eventTypes: $eventTypes) {\n      id\n      key\n      expiresAt\n      eventTypes\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ApiKeysList {\n    apiKeys {\n      id\n      name\n      role\n      createdAt\n      lastUsedAt\n      expiresAt\n      revokedAt\n      eventTypes\n    }\n  }\n"): (typeof documents)["\n  query ApiKeysList {\n    apiKeys {\n      id\n      name\n      role\n      createdAt\n      lastUsedAt\n      expiresAt\n      revokedAt\n      eventTypes\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ApiKeysRevoke($id: ID!) {\n    revokeApiKey(id: $id)\n  }\n"): (typeof documents)["\n  mutation ApiKeysRevoke($id: ID!) {\n    revokeApiKey(id: $id)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ApiKeysPublish($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      ids\n    }\n  }\n"): (typeof documents)["\n  mutation ApiKeysPublish($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      ids\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ApiKeysHistory {\n    events(first: 50) {\n      edges {\n        node {\n          type\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query ApiKeysHistory {\n    events(first: 50) {\n      edges {\n        node {\n          type\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ApiKeysDashboard {\n    dashboard {\n      at\n    }\n  }\n"): (typeof documents)["\n  query ApiKeysDashboard {\n    dashboard {\n      at\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n      query LatestEvents {\n        events(first: 10) {\n          edges {\n            node {\n              id\n            }\n          }\n        }\n      }\n    "): (typeof documents)["\n      query LatestEvents {\n        events(first: 10) {\n          edges {\n            node {\n              id\n            }\n          }\n        }\n      }\n    "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DemoRuleNames {\n    alertRules {\n      name\n    }\n  }\n"): (typeof documents)["\n  query DemoRuleNames {\n    alertRules {\n      name\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DemoAggregates {\n    aggregates(\n      metrics: [\"events_received\", \"benchmark_total\", \"api_response_time\", \"anomaly_count\", \"competitive_parity\"]\n      windows: [M5]\n    ) {\n      metric\n      count\n      sum\n    }\n  }\n"): (typeof documents)["\n  query DemoAggregates {\n    aggregates(\n      metrics: [\"events_received\", \"benchmark_total\", \"api_response_time\", \"anomaly_count\", \"competitive_parity\"]\n      windows: [M5]\n    ) {\n      metric\n      count\n      sum\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DemoEventsOfType($types: [EventType!]) {\n    events(types: $types, first: 100) {\n      edges {\n        node {\n          id\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query DemoEventsOfType($types: [EventType!]) {\n    events(types: $types, first: 100) {\n      edges {\n        node {\n          id\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query StoredEvent($id: ID!) {\n    event(id: $id) {\n      id\n    }\n  }\n"): (typeof documents)["\n  query StoredEvent($id: ID!) {\n    event(id: $id) {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation PublishOneWithCursor($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      cursor\n    }\n  }\n"): (typeof documents)["\n  mutation PublishOneWithCursor($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      cursor\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query HistoryCursors($first: Int) {\n    events(first: $first) {\n      edges {\n        node {\n          id\n          cursor\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query HistoryCursors($first: Int) {\n    events(first: $first) {\n      edges {\n        node {\n          id\n          cursor\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query EventHistory($first: Int, $after: String, $types: [EventType!], $since: DateTime, $until: DateTime) {\n    events(first: $first, after: $after, types: $types, since: $since, until: $until) {\n      edges {\n        cursor\n        node {\n          id\n          type\n          timestamp\n          data\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"): (typeof documents)["\n  query EventHistory($first: Int, $after: String, $types: [EventType!], $since: DateTime, $until: DateTime) {\n    events(first: $first, after: $after, types: $types, since: $since, until: $until) {\n      edges {\n        cursor\n        node {\n          id\n          type\n          timestamp\n          data\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Event($id: ID!) {\n    event(id: $id) {\n      id\n      data\n    }\n  }\n"): (typeof documents)["\n  query Event($id: ID!) {\n    event(id: $id) {\n      id\n      data\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n        query LatestEventId {\n          events(first: 1) {\n            edges {\n              node {\n                id\n              }\n            }\n          }\n        }\n      "): (typeof documents)["\n        query LatestEventId {\n          events(first: 1) {\n            edges {\n              node {\n                id\n              }\n            }\n          }\n        }\n      "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MetricNamesCounted {\n    metricNames\n  }\n"): (typeof documents)["\n  query MetricNamesCounted {\n    metricNames\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n              subscription AlertsAfterCounted($after: ID) {\n                alertTriggered(after: $after) {\n                  id\n                }\n              }\n            "): (typeof documents)["\n              subscription AlertsAfterCounted($after: ID) {\n                alertTriggered(after: $after) {\n                  id\n                }\n              }\n            "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n      query HostileLabels {\n        hostile: metricLabels(metric: \"label_hostile\")\n        flood: metricLabels(metric: \"label_flood\")\n      }\n    "): (typeof documents)["\n      query HostileLabels {\n        hostile: metricLabels(metric: \"label_hostile\")\n        flood: metricLabels(metric: \"label_flood\")\n      }\n    "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n      query Typename {\n        __typename\n      }\n    "): (typeof documents)["\n      query Typename {\n        __typename\n      }\n    "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n      query HostileStored {\n        alertRules {\n          id\n        }\n        apiKeys {\n          name\n        }\n      }\n    "): (typeof documents)["\n      query HostileStored {\n        alertRules {\n          id\n        }\n        apiKeys {\n          name\n        }\n      }\n    "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AggregateLabelled($metric: String!, $labels: [LabelMatcher!]) {\n    aggregate(metric: $metric, window: M5, labels: $labels) {\n      metric\n      labels {\n        name\n        value\n      }\n      count\n      sum\n      min\n      max\n      p50\n      p99\n    }\n  }\n"): (typeof documents)["\n  query AggregateLabelled($metric: String!, $labels: [LabelMatcher!]) {\n    aggregate(metric: $metric, window: M5, labels: $labels) {\n      metric\n      labels {\n        name\n        value\n      }\n      count\n      sum\n      min\n      max\n      p50\n      p99\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AggregateGroups($metric: String!, $by: [String!]!, $labels: [LabelMatcher!], $orderBy: Aggregation, $first: Int) {\n    aggregateGroups(metric: $metric, window: M5, by: $by, labels: $labels, orderBy: $orderBy, first: $first) {\n      labels {\n        name\n        value\n      }\n      count\n      sum\n      max\n    }\n  }\n"): (typeof documents)["\n  query AggregateGroups($metric: String!, $by: [String!]!, $labels: [LabelMatcher!], $orderBy: Aggregation, $first: Int) {\n    aggregateGroups(metric: $metric, window: M5, by: $by, labels: $labels, orderBy: $orderBy, first: $first) {\n      labels {\n        name\n        value\n      }\n      count\n      sum\n      max\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query LabelLists($metric: String!) {\n    metricLabels(metric: $metric)\n    regions: metricLabelValues(metric: $metric, label: \"region\")\n    firstHost: metricLabelValues(metric: $metric, label: \"host\", first: 1)\n  }\n"): (typeof documents)["\n  query LabelLists($metric: String!) {\n    metricLabels(metric: $metric)\n    regions: metricLabelValues(metric: $metric, label: \"region\")\n    firstHost: metricLabelValues(metric: $metric, label: \"host\", first: 1)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Series($metric: String!, $labels: [LabelMatcher!]) {\n    metricSeries(metric: $metric, window: M5, labels: $labels) {\n      metric\n      window\n      labels {\n        name\n        value\n      }\n      stepSeconds\n      points {\n        at\n        count\n        sum\n        min\n        max\n        avg\n        p50\n        p95\n        p99\n      }\n    }\n  }\n"): (typeof documents)["\n  query Series($metric: String!, $labels: [LabelMatcher!]) {\n    metricSeries(metric: $metric, window: M5, labels: $labels) {\n      metric\n      window\n      labels {\n        name\n        value\n      }\n      stepSeconds\n      points {\n        at\n        count\n        sum\n        min\n        max\n        avg\n        p50\n        p95\n        p99\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription LabelledMetricUpdated($metric: String!, $labels: [LabelMatcher!], $minIntervalMs: Int) {\n    metricUpdated(metric: $metric, window: M5, labels: $labels, minIntervalMs: $minIntervalMs) {\n      labels {\n        name\n        value\n      }\n      count\n      sum\n    }\n  }\n"): (typeof documents)["\n  subscription LabelledMetricUpdated($metric: String!, $labels: [LabelMatcher!], $minIntervalMs: Int) {\n    metricUpdated(metric: $metric, window: M5, labels: $labels, minIntervalMs: $minIntervalMs) {\n      labels {\n        name\n        value\n      }\n      count\n      sum\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription SeriesUpdated($metric: String!, $labels: [LabelMatcher!], $minIntervalMs: Int) {\n    metricSeriesUpdated(metric: $metric, window: M5, labels: $labels, minIntervalMs: $minIntervalMs) {\n      series {\n        stepSeconds\n        labels {\n          name\n          value\n        }\n        points {\n          at\n          count\n          sum\n          max\n        }\n      }\n      changed {\n        at\n        count\n        sum\n        max\n      }\n    }\n  }\n"): (typeof documents)["\n  subscription SeriesUpdated($metric: String!, $labels: [LabelMatcher!], $minIntervalMs: Int) {\n    metricSeriesUpdated(metric: $metric, window: M5, labels: $labels, minIntervalMs: $minIntervalMs) {\n      series {\n        stepSeconds\n        labels {\n          name\n          value\n        }\n        points {\n          at\n          count\n          sum\n          max\n        }\n      }\n      changed {\n        at\n        count\n        sum\n        max\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n        query EmbeddedHistory {\n          events(first: 5) {\n            edges {\n              node {\n                id\n                data\n              }\n            }\n          }\n        }\n      "): (typeof documents)["\n        query EmbeddedHistory {\n          events(first: 5) {\n            edges {\n              node {\n                id\n                data\n              }\n            }\n          }\n        }\n      "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n          query AggregatesMetricMajor {\n            aggregates(metrics: [\"latency_a\", \"retried\"], windows: [M1, M5, H24]) {\n              metric\n              window\n              count\n            }\n          }\n        "): (typeof documents)["\n          query AggregatesMetricMajor {\n            aggregates(metrics: [\"latency_a\", \"retried\"], windows: [M1, M5, H24]) {\n              metric\n              window\n              count\n            }\n          }\n        "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n        query MetricNames {\n          metricNames\n        }\n      "): (typeof documents)["\n        query MetricNames {\n          metricNames\n        }\n      "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n        subscription LiveMetric {\n          metricUpdated(metric: \"live_m\", window: M1) {\n            count\n            sum\n            max\n          }\n        }\n      "): (typeof documents)["\n        subscription LiveMetric {\n          metricUpdated(metric: \"live_m\", window: M1) {\n            count\n            sum\n            max\n          }\n        }\n      "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n        subscription Dashboard {\n          dashboardUpdated {\n            at\n            competitiveParity\n            anomalyCount\n            apiResponseTime\n            benchmarkSuccessRate\n            eventsPerSecond\n            firingAlerts\n          }\n        }\n      "): (typeof documents)["\n        subscription Dashboard {\n          dashboardUpdated {\n            at\n            competitiveParity\n            anomalyCount\n            apiResponseTime\n            benchmarkSuccessRate\n            eventsPerSecond\n            firingAlerts\n          }\n        }\n      "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n      query ClusterHistory {\n        events(first: 1) {\n          edges {\n            node {\n              id\n            }\n          }\n        }\n      }\n    "): (typeof documents)["\n      query ClusterHistory {\n        events(first: 1) {\n          edges {\n            node {\n              id\n            }\n          }\n        }\n      }\n    "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query EventCount {\n    events(first: 500) {\n      edges {\n        node {\n          id\n          type\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query EventCount {\n    events(first: 500) {\n      edges {\n        node {\n          id\n          type\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardValues {\n    dashboard {\n      anomalyCount\n      apiResponseTime\n      competitiveParity\n    }\n  }\n"): (typeof documents)["\n  query DashboardValues {\n    dashboard {\n      anomalyCount\n      apiResponseTime\n      competitiveParity\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query HugeStats($metric: String!) {\n    aggregate(metric: $metric, window: M5) {\n      count\n      sum\n      avg\n      stddev\n    }\n  }\n"): (typeof documents)["\n  query HugeStats($metric: String!) {\n    aggregate(metric: $metric, window: M5) {\n      count\n      sum\n      avg\n      stddev\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MetricNamesPage($first: Int, $after: String) {\n    metricNames(first: $first, after: $after)\n  }\n"): (typeof documents)["\n  query MetricNamesPage($first: Int, $after: String) {\n    metricNames(first: $first, after: $after)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query PairsInAliases($metrics: [String!]!, $windows: [WindowSize!]!) {\n    a: aggregates(metrics: $metrics, windows: $windows) {\n      count\n    }\n    b: aggregates(metrics: $metrics, windows: $windows) {\n      count\n    }\n    one: aggregate(metric: \"budget_metric_0\", window: M1) {\n      count\n    }\n  }\n"): (typeof documents)["\n  query PairsInAliases($metrics: [String!]!, $windows: [WindowSize!]!) {\n    a: aggregates(metrics: $metrics, windows: $windows) {\n      count\n    }\n    b: aggregates(metrics: $metrics, windows: $windows) {\n      count\n    }\n    one: aggregate(metric: \"budget_metric_0\", window: M1) {\n      count\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query RowsInAliases($n: Int) {\n    a: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    b: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    c: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    d: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    e: alerts(first: $n) {\n      edges {\n        cursor\n      }\n    }\n  }\n"): (typeof documents)["\n  query RowsInAliases($n: Int) {\n    a: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    b: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    c: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    d: events(first: $n) {\n      edges {\n        cursor\n      }\n    }\n    e: alerts(first: $n) {\n      edges {\n        cursor\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AggregateSnapshot {\n    aggregates(metrics: [\"restart_a\", \"restart_b\", \"anomaly_count\"], windows: [M1, M15, H24]) {\n      ...AggregateStats\n    }\n    metricNames\n  }\n"): (typeof documents)["\n  query AggregateSnapshot {\n    aggregates(metrics: [\"restart_a\", \"restart_b\", \"anomaly_count\"], windows: [M1, M15, H24]) {\n      ...AggregateStats\n    }\n    metricNames\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation PublishAnomaly {\n    publishEvent(input: { type: ANOMALY_DETECTED, data: {} }) {\n      id\n    }\n  }\n"): (typeof documents)["\n  mutation PublishAnomaly {\n    publishEvent(input: { type: ANOMALY_DETECTED, data: {} }) {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id)\n  }\n"): (typeof documents)["\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query LatestEventIds {\n    events(first: 1) {\n      edges {\n        node {\n          id\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query LatestEventIds {\n    events(first: 1) {\n      edges {\n        node {\n          id\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AlertRuleNamesOnly {\n    alertRules {\n      name\n    }\n  }\n"): (typeof documents)["\n  query AlertRuleNamesOnly {\n    alertRules {\n      name\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AlertRuleSecrets {\n    alertRules {\n      webhookUrls\n      emails\n    }\n  }\n"): (typeof documents)["\n  query AlertRuleSecrets {\n    alertRules {\n      webhookUrls\n      emails\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AlertRuleWebhookUrls {\n    alertRules {\n      webhookUrls\n    }\n  }\n"): (typeof documents)["\n  query AlertRuleWebhookUrls {\n    alertRules {\n      webhookUrls\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AlertRuleEmails {\n    alertRules {\n      emails\n    }\n  }\n"): (typeof documents)["\n  query AlertRuleEmails {\n    alertRules {\n      emails\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n      subscription Insights {\n        eventPublished(types: [INSIGHT_GENERATED]) {\n          id\n          receivedAt\n          data\n        }\n      }\n    "): (typeof documents)["\n      subscription Insights {\n        eventPublished(types: [INSIGHT_GENERATED]) {\n          id\n          receivedAt\n          data\n        }\n      }\n    "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevokeEdgeKey($id: ID!) {\n    revokeApiKey(id: $id)\n  }\n"): (typeof documents)["\n  mutation RevokeEdgeKey($id: ID!) {\n    revokeApiKey(id: $id)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DeepEvents {\n    events(first: 1) {\n      edges {\n        node {\n          id\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query DeepEvents {\n    events(first: 1) {\n      edges {\n        node {\n          id\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n        mutation PublishTwoAnomalies($a: ID, $b: ID) {\n          a: publishEvent(input: { id: $a, type: ANOMALY_DETECTED, data: {} }) {\n            id\n            type\n            timestamp\n            receivedAt\n            data\n          }\n          b: publishEvent(input: { id: $b, type: ANOMALY_DETECTED, data: {} }) {\n            id\n            type\n            timestamp\n            receivedAt\n            data\n          }\n        }\n      "): (typeof documents)["\n        mutation PublishTwoAnomalies($a: ID, $b: ID) {\n          a: publishEvent(input: { id: $a, type: ANOMALY_DETECTED, data: {} }) {\n            id\n            type\n            timestamp\n            receivedAt\n            data\n          }\n          b: publishEvent(input: { id: $b, type: ANOMALY_DETECTED, data: {} }) {\n            id\n            type\n            timestamp\n            receivedAt\n            data\n          }\n        }\n      "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n        mutation PublishAnomalyWithId($a: ID) {\n          publishEvent(input: { id: $a, type: ANOMALY_DETECTED, data: {} }) {\n            id\n          }\n        }\n      "): (typeof documents)["\n        mutation PublishAnomalyWithId($a: ID) {\n          publishEvent(input: { id: $a, type: ANOMALY_DETECTED, data: {} }) {\n            id\n          }\n        }\n      "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n        query FourAliases {\n          a: metricNames\n          b: metricNames\n          c: metricNames\n          d: metricNames\n        }\n      "): (typeof documents)["\n        query FourAliases {\n          a: metricNames\n          b: metricNames\n          c: metricNames\n          d: metricNames\n        }\n      "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n      query QueryTypeName {\n        __schema {\n          queryType {\n            name\n          }\n        }\n      }\n    "): (typeof documents)["\n      query QueryTypeName {\n        __schema {\n          queryType {\n            name\n          }\n        }\n      }\n    "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n      query SecretsHistory {\n        events(first: 1) {\n          edges {\n            node {\n              id\n            }\n          }\n        }\n      }\n    "): (typeof documents)["\n      query SecretsHistory {\n        events(first: 1) {\n          edges {\n            node {\n              id\n            }\n          }\n        }\n      }\n    "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n        mutation CreateProbeRule($input: AlertRuleInput!) {\n          createAlertRule(input: $input) {\n            id\n          }\n        }\n      "): (typeof documents)["\n        mutation CreateProbeRule($input: AlertRuleInput!) {\n          createAlertRule(input: $input) {\n            id\n          }\n        }\n      "];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StatusPageCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n"): (typeof documents)["\n  mutation StatusPageCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query StatusPageAlerts($status: [AlertStatus!]) {\n    alerts(status: $status) {\n      edges {\n        node {\n          id\n          ruleName\n          status\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query StatusPageAlerts($status: [AlertStatus!]) {\n    alerts(status: $status) {\n      edges {\n        node {\n          id\n          ruleName\n          status\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateTracedRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n"): (typeof documents)["\n  mutation CreateTracedRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription TracedAlertTriggered {\n    alertTriggered {\n      id\n      ruleId\n    }\n  }\n"): (typeof documents)["\n  subscription TracedAlertTriggered {\n    alertTriggered {\n      id\n      ruleId\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation WebhookQueueCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n"): (typeof documents)["\n  mutation WebhookQueueCreateRule($input: AlertRuleInput!) {\n    createAlertRule(input: $input) {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WebhookQueueRules {\n    alertRules {\n      id\n    }\n  }\n"): (typeof documents)["\n  query WebhookQueueRules {\n    alertRules {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation WebhookQueuePublish($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      ids\n    }\n  }\n"): (typeof documents)["\n  mutation WebhookQueuePublish($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      ids\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WebhookQueueDeliveries($ruleId: ID!) {\n    alerts(ruleId: $ruleId, first: 5) {\n      edges {\n        node {\n          id\n          deliveries {\n            channel\n            attempt\n            ok\n            statusCode\n            error\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query WebhookQueueDeliveries($ruleId: ID!) {\n    alerts(ruleId: $ruleId, first: 5) {\n      edges {\n        node {\n          id\n          deliveries {\n            channel\n            attempt\n            ok\n            statusCode\n            error\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation PublishEvent($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      type\n      timestamp\n      receivedAt\n      data\n    }\n  }\n"): (typeof documents)["\n  mutation PublishEvent($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      type\n      timestamp\n      receivedAt\n      data\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation PublishEvents($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      accepted\n      duplicates\n      ids\n    }\n  }\n"): (typeof documents)["\n  mutation PublishEvents($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      accepted\n      duplicates\n      ids\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment AggregateStats on MetricAggregate {\n    metric\n    window\n    count\n    sum\n    avg\n    min\n    max\n    stddev\n    p50\n    p95\n    p99\n  }\n"): (typeof documents)["\n  fragment AggregateStats on MetricAggregate {\n    metric\n    window\n    count\n    sum\n    avg\n    min\n    max\n    stddev\n    p50\n    p95\n    p99\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Aggregate($metric: String!, $window: WindowSize!) {\n    aggregate(metric: $metric, window: $window) {\n      ...AggregateStats\n      from\n      to\n    }\n  }\n"): (typeof documents)["\n  query Aggregate($metric: String!, $window: WindowSize!) {\n    aggregate(metric: $metric, window: $window) {\n      ...AggregateStats\n      from\n      to\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateApiKey($name: String!, $role: Role!) {\n    createApiKey(name: $name, role: $role) {\n      id\n      name\n      role\n      key\n    }\n  }\n"): (typeof documents)["\n  mutation CreateApiKey($name: String!, $role: Role!) {\n    createApiKey(name: $name, role: $role) {\n      id\n      name\n      role\n      key\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription EventPublished($types: [EventType!]) {\n    eventPublished(types: $types) {\n      id\n      type\n      receivedAt\n      data\n    }\n  }\n"): (typeof documents)["\n  subscription EventPublished($types: [EventType!]) {\n    eventPublished(types: $types) {\n      id\n      type\n      receivedAt\n      data\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription EventsAfter($types: [EventType!], $after: String) {\n    eventPublished(types: $types, after: $after) {\n      id\n      type\n      cursor\n    }\n  }\n"): (typeof documents)["\n  subscription EventsAfter($types: [EventType!], $after: String) {\n    eventPublished(types: $types, after: $after) {\n      id\n      type\n      cursor\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;