// The live status page: one graphql-ws connection (graphql-transport-ws) to /graphql with the key typed in, kept in
// sessionStorage (this tab only). Tiles from dashboardUpdated, the events-per-second chart from
// metricUpdated(events_received, M1), alerts from alertTriggered / alertResolved. Plain browser JavaScript: uPlot and
// graphql-ws are served from the server's node_modules.

(() => {
  const KEY_STORAGE = 'jackdaw.statusPage.key';
  const CHART_SECONDS = 15 * 60;
  const KEY_REFUSED = 4403; // the server's close code for an unknown or revoked key

  const $ = (id) => document.getElementById(id);
  const connection = $('connection');
  const keyForm = $('key-form');
  const keyInput = $('key');
  const forgetButton = $('forget');
  const alertList = $('alerts');
  const alertsNotice = $('alerts-notice');

  const ALERT_FIELDS = 'id ruleName severity status message triggeredAt acknowledgedAt';
  const DASHBOARD_FIELDS =
    'at eventsPerSecond benchmarkSuccessRate apiResponseTime competitiveParity anomalyCount firingAlerts';

  let client = null;
  let stopFeeds = [];
  const alerts = new Map(); // id → alert, unresolved only

  // --- connection state --------------------------------------------------------------------------------------
  function setConnection(state, text) {
    connection.dataset.state = state;
    connection.textContent = text;
  }

  function connect(key) {
    disconnect();
    const url = new URL('/graphql', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    setConnection('connecting', 'connecting…');
    // A disposed client still reports its close: only the current one may change what the page says. (Declared
    // first: the client reports `connecting` before createClient returns.)
    let current = null;
    const ifCurrent =
      (handler) =>
      (...args) =>
        (current === null || client === current) && handler(...args);
    current = graphqlWs.createClient({
      url: url.toString(),
      connectionParams: { authorization: `Bearer ${key}` },
      lazy: false,
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: (event) => !(event?.code === KEY_REFUSED),
      onNonLazyError: () => {},
      on: {
        connecting: ifCurrent(() => setConnection('connecting', 'connecting…')),
        connected: ifCurrent(() => {
          setConnection('connected', 'connected');
          // After a reconnection too: whatever happened while the socket was down is read afresh.
          loadAlerts();
          loadChartHistory();
        }),
        closed: ifCurrent((event) => {
          if (event?.code === KEY_REFUSED) setConnection('refused', 'key refused');
          else setConnection('closed', `disconnected${event?.code ? ` (${event.code})` : ''}, retrying`);
        }),
      },
    });
    client = current;
    forgetButton.hidden = false;
    startFeeds();
  }

  function disconnect() {
    for (const stop of stopFeeds) stop();
    stopFeeds = [];
    if (client) client.dispose();
    client = null;
  }

  /** One query or mutation over the socket; rejects with the GraphQL errors, if any. */
  function request(query, variables = {}) {
    return new Promise((resolve, reject) => {
      let result = null;
      client.subscribe(
        { query, variables },
        {
          next: (value) => {
            result = value;
          },
          error: (error) => reject(Array.isArray(error) ? error : [{ message: String(error?.reason || error) }]),
          complete: () => (result?.errors ? reject(result.errors) : resolve(result?.data)),
        },
      );
    });
  }

  function feed(query, variables, onData) {
    stopFeeds.push(
      client.subscribe(
        { query, variables },
        {
          next: (value) => value.data && onData(value.data),
          error: () => {},
          complete: () => {},
        },
      ),
    );
  }

  function startFeeds() {
    feed(`subscription { dashboardUpdated { ${DASHBOARD_FIELDS} } }`, {}, (data) =>
      showDashboard(data.dashboardUpdated),
    );
    feed('subscription { metricUpdated(metric: "events_received", window: M1) { count to } }', {}, (data) =>
      addRate(data.metricUpdated.count / 60),
    );
    feed(`subscription { alertTriggered { ${ALERT_FIELDS} } }`, {}, (data) => {
      changeAlert(data.alertTriggered.id, data.alertTriggered);
    });
    feed('subscription { alertResolved { id } }', {}, (data) => {
      changeAlert(data.alertResolved.id, null);
    });
  }

  // --- tiles -------------------------------------------------------------------------------------------------
  const number = (digits) => (value) => (value == null ? '–' : value.toFixed(digits));
  const TILE_FORMATS = {
    eventsPerSecond: number(2),
    benchmarkSuccessRate: (value) => `${(value * 100).toFixed(1)} %`,
    apiResponseTime: (value) => (value == null ? '–' : `${value.toFixed(0)} ms`),
    competitiveParity: number(3),
    anomalyCount: number(0),
    firingAlerts: number(0),
  };

  function showDashboard(dashboard) {
    for (const [field, format] of Object.entries(TILE_FORMATS))
      $(`tile-${field}`).textContent = format(dashboard[field]);
    $('updated-at').textContent = new Date(dashboard.at).toLocaleTimeString();
  }

  // --- chart -------------------------------------------------------------------------------------------------
  const chartElement = $('chart');
  const times = [];
  const rates = [];
  const nowSeconds = () => Date.now() / 1000;
  const chart = new uPlot(
    {
      width: chartElement.clientWidth - 16,
      height: 240,
      scales: { x: { time: true, range: () => [nowSeconds() - CHART_SECONDS, nowSeconds()] }, y: { range: yRange } },
      series: [
        {},
        { label: 'events/s', stroke: '#2f80ed', fill: 'rgba(47,128,237,0.12)', width: 2, points: { show: false } },
      ],
      axes: [{ stroke: '#98a2b3' }, { stroke: '#98a2b3', size: 56 }],
      legend: { show: false },
    },
    [times, rates],
    chartElement,
  );

  function yRange(_chart, _min, max) {
    return [0, max > 0 ? max * 1.15 : 1];
  }

  function addRate(rate, at = nowSeconds()) {
    times.push(at);
    rates.push(rate);
    // Points a little past the left edge stay, so the line runs into it rather than starting inside the chart.
    while (times.length > 1 && times[1] < at - CHART_SECONDS) {
      times.shift();
      rates.shift();
    }
    drawChart();
  }

  function drawChart() {
    chart.setData([times, rates]);
    chartElement.dataset.points = String(times.length);
    chartElement.dataset.latest = rates.length ? String(rates[rates.length - 1]) : '';
  }

  /** Before this page was opened only window totals exist: drawn as the average rate of each span. */
  async function loadChartHistory() {
    const data = await request(
      'query { aggregates(metrics: ["events_received"], windows: [M1, M5, M15]) { window count } }',
    ).catch(() => null);
    if (!data) return;
    const count = Object.fromEntries(data.aggregates.map((a) => [a.window, a.count]));
    const now = nowSeconds();
    const spans = [
      [now - 900, now - 300, (count.M15 - count.M5) / 600],
      [now - 300, now - 60, (count.M5 - count.M1) / 240],
      [now - 60, now, count.M1 / 60],
    ];
    const history = [];
    for (const [from, to, rate] of spans) history.push([from, rate], [to - 1, rate]);
    const firstLive = times.length ? times[0] : now;
    const earlier = history.filter(([at]) => at < firstLive);
    times.unshift(...earlier.map(([at]) => at));
    rates.unshift(...earlier.map(([, rate]) => rate));
    drawChart();
  }

  // The line moves on with time even when no event arrives: the latest rate is repeated each second.
  setInterval(() => {
    if (rates.length && connection.dataset.state === 'connected') addRate(rates[rates.length - 1]);
  }, 1_000);
  addEventListener('resize', () => chart.setSize({ width: chartElement.clientWidth - 16, height: 240 }));

  // --- alerts ------------------------------------------------------------------------------------------------
  /** What the feeds pushed while a load was in flight: the load's answer may predate it, so it is applied after. */
  let pushedDuringLoad = null;

  /** An alert pushed by a feed: fired (the alert) or resolved (null). */
  function changeAlert(id, alert) {
    pushedDuringLoad?.set(id, alert);
    if (alert) alerts.set(id, alert);
    else alerts.delete(id);
    renderAlerts();
  }

  async function loadAlerts() {
    const pushed = new Map();
    pushedDuringLoad = pushed;
    const data = await request(
      `query { alerts(first: 100, status: [FIRING, ACKNOWLEDGED]) { edges { node { ${ALERT_FIELDS} } } } }`,
    ).catch((errors) => {
      showAlertsNotice(errors);
      return null;
    });
    if (pushedDuringLoad === pushed) pushedDuringLoad = null;
    if (!data) return;
    alerts.clear();
    for (const { node } of data.alerts.edges) alerts.set(node.id, node);
    for (const [id, alert] of pushed) {
      if (alert) alerts.set(id, alert);
      else alerts.delete(id);
    }
    renderAlerts();
  }

  function showAlertsNotice(errors) {
    const forbidden = errors?.some?.((e) => e.extensions?.code === 'FORBIDDEN');
    alertsNotice.textContent = forbidden
      ? 'Acknowledging needs an admin key.'
      : (errors?.[0]?.message ?? 'The request failed.');
    alertsNotice.hidden = false;
  }

  function renderAlerts() {
    const sorted = [...alerts.values()].sort((a, b) => b.triggeredAt.localeCompare(a.triggeredAt));
    alertList.replaceChildren(...sorted.map(alertItem));
    $('no-alerts').hidden = sorted.length > 0;
  }

  function alertItem(alert) {
    const item = document.createElement('li');
    item.dataset.alertId = alert.id;
    item.dataset.status = alert.status;
    const severity = element('span', 'severity', alert.severity);
    const name = element('strong', 'rule', alert.ruleName);
    const when = element('span', 'when', `since ${new Date(alert.triggeredAt).toLocaleTimeString()}`);
    const message = element('span', 'message', alert.message);
    item.append(severity, name);
    if (alert.status === 'FIRING') {
      const button = element('button', 'acknowledge', 'Acknowledge');
      button.type = 'button';
      button.addEventListener('click', () => acknowledge(alert.id, button));
      item.append(button);
    } else {
      item.append(element('span', 'acknowledged', 'acknowledged'));
    }
    item.append(when, message);
    return item;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    node.className = className;
    node.textContent = text;
    return node;
  }

  async function acknowledge(id, button) {
    button.disabled = true;
    try {
      const data = await request(`mutation ($id: ID!) { acknowledgeAlert(id: $id) { ${ALERT_FIELDS} } }`, { id });
      alertsNotice.hidden = true;
      if (alerts.has(id)) alerts.set(id, data.acknowledgeAlert);
      renderAlerts();
    } catch (errors) {
      button.disabled = false;
      showAlertsNotice(errors);
    }
  }

  // --- the key -----------------------------------------------------------------------------------------------
  keyForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const key = keyInput.value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORAGE, key);
    keyInput.value = '';
    connect(key);
  });
  forgetButton.addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORAGE);
    disconnect();
    forgetButton.hidden = true;
    setConnection('signed-out', 'not connected');
  });

  const savedKey = sessionStorage.getItem(KEY_STORAGE);
  if (savedKey) connect(savedKey);
})();
