// The shipped deployment files hold no secret anyone could know: compose refuses to start without an ADMIN_API_KEY
// (`${VAR:?message}` stops `docker compose up` with the message), and no example key or secret is written anywhere.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const compose = read('docker-compose.yml');

/** The value compose interpolates for `name` in the app's environment. */
function environmentValue(name: string): string | undefined {
  return new RegExp(`^\\s+${name}:\\s*(.+)$`, 'm').exec(compose)?.[1]?.trim();
}

describe('deployment files', () => {
  it('should have the shipped Prometheus scrape the port compose serves /metrics on', () => {
    const metricsPort = environmentValue('METRICS_PORT');
    expect(metricsPort).toMatch(/^\d+$/);
    const scrapePorts = [...read('deploy/prometheus/prometheus.yml').matchAll(/^\s+port:\s*(\d+)/gm)].map((m) => m[1]);
    expect(scrapePorts).toEqual([metricsPort]);
  });

  it('should make compose refuse to start without ADMIN_API_KEY, saying what to set', () => {
    expect(environmentValue('ADMIN_API_KEY')).toMatch(/^\$\{ADMIN_API_KEY:\?set ADMIN_API_KEY [^}]+\}$/);
  });

  it('should give no secret a default value in compose', () => {
    for (const name of ['ADMIN_API_KEY', 'WEBHOOK_SECRET', 'WEBHOOK_SECRET_PREVIOUS', 'JWT_SECRET']) {
      const value = environmentValue(name);
      // Unset, required (`:?`) or empty (`:-` with nothing after it) are the only forms allowed.
      if (value !== undefined) expect(value).toMatch(new RegExp(`^\\$\\{${name}(:\\?[^}]+|:-)?\\}$`));
    }
  });

  it('should write no example key in compose, the proxy configuration or the docs', () => {
    for (const path of ['docker-compose.yml', 'deploy/nginx.conf', 'README.md', 'Dockerfile']) {
      const text = read(path);
      expect(text, path).not.toMatch(/change-me|jds_[A-Za-z0-9_-]{20,}/);
      expect(text, path).not.toMatch(/Bearer [A-Za-z0-9_-]{16,}/);
    }
  });
});
