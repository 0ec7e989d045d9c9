/**
 * The demo as CI sees it: both services on ephemeral ports over a temp data folder, the scripted
 * client run in-process (twice on one folder: the second start must reuse the database and the
 * seeded user), and the login throttle's lockout and per-IP limit over real HTTP.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario } from './client.js';
import { type RunningDemo, startDemo } from './services.js';
import { DEFAULT_THROTTLE, type DemoSettings, SEEDED_USER, type ThrottleSettings } from './settings.js';

let dataRoot: string;

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'sessionkit-demo-'));
});

afterAll(async () => {
  await rm(dataRoot, { recursive: true, force: true });
});

function settings(folder: string, throttle: ThrottleSettings = DEFAULT_THROTTLE): DemoSettings {
  return { host: '127.0.0.1', authorityPort: 0, resourcePort: 0, dataDir: join(dataRoot, folder), throttle };
}

async function scenario(demo: RunningDemo): Promise<string> {
  const lines: string[] = [];
  await runScenario({
    authorityUrl: demo.authority.url,
    resourceUrl: demo.resource.url,
    username: SEEDED_USER.username,
    password: SEEDED_USER.password,
    maxConsecutiveFailures: DEFAULT_THROTTLE.maxConsecutiveFailures,
    log: (line) => lines.push(line),
  });
  return lines.join('\n');
}

function login(demo: RunningDemo, username: string, password: string): Promise<Response> {
  return fetch(`${demo.authority.url}/auth/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
}

describe('pnpm demo', () => {
  it('runs the scripted client: every lifecycle step behaves as designed, no token printed in full', async () => {
    const demo = await startDemo(settings('scenario'));
    try {
      expect(demo.databaseCreated).toBe(true);
      expect(demo.appliedMigrations.length).toBeGreaterThan(0);
      expect(demo.seededUser).toBe('created');
      const output = await scenario(demo);
      expect(output).toContain('refresh_token_reused');
      expect(output).toContain('the chain did not fork');
      expect(output).toContain('429 with Retry-After');
      // Handles only: a refresh token's secret or a JWT's payload never reaches the output.
      expect(output).not.toMatch(/skr_[0-9a-f-]{36}\.[\w-]{20,}/);
      expect(output).not.toMatch(/eyJ[\w-]{20,}\.eyJ/);
    } finally {
      await demo.close();
    }
  });

  it('starts again on the same data folder: migrations already applied, user not seeded twice', async () => {
    const demo = await startDemo(settings('scenario'));
    try {
      expect(demo.databaseCreated).toBe(false);
      expect(demo.appliedMigrations).toEqual([]);
      expect(demo.seededUser).toBe('present');
      await scenario(demo);
    } finally {
      await demo.close();
    }
  });

  it('refuses a second demo on a data folder that a running demo holds', async () => {
    const demo = await startDemo(settings('locked'));
    try {
      await expect(startDemo(settings('locked'))).rejects.toThrow(/another demo .* is using the data folder/);
    } finally {
      await demo.close();
    }
  });

  it('locks a username out after N wrong passwords from one IP: 429 + Retry-After, even for the right one', async () => {
    const throttle = { ...DEFAULT_THROTTLE, maxConsecutiveFailures: 3, lockoutSeconds: 2 };
    const demo = await startDemo(settings('lockout', throttle));
    const { username, password } = SEEDED_USER;
    try {
      // A success resets the count: two failures, a success, then three more failures are all 400.
      for (const guess of ['wrong 1', 'wrong 2'])
        expect((await login(demo, username, guess)).status).toBe(400);
      expect((await login(demo, username, password)).status).toBe(200);
      for (const guess of ['wrong 3', 'wrong 4', 'wrong 5']) {
        const wrong = await login(demo, username, guess);
        expect(wrong.status).toBe(400);
        expect(await wrong.json()).toMatchObject({ error: 'invalid_grant' });
      }

      const locked = await login(demo, username, password);
      expect(locked.status).toBe(429);
      const retryAfter = Number(locked.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(2);
      expect(JSON.stringify(await locked.json())).not.toContain('access_token');

      // The lockout is per username: another one from the same address is still judged on its password.
      expect((await login(demo, 'bob@example.com', 'a guess')).status).toBe(400);

      await sleep(retryAfter * 1000 + 100);
      expect((await login(demo, username, password)).status).toBe(200);
    } finally {
      await demo.close();
    }
  });

  it('limits failures per IP across usernames: credential stuffing gets 429 too', async () => {
    const throttle = { ...DEFAULT_THROTTLE, maxFailuresPerIp: 3 };
    const demo = await startDemo(settings('per-ip', throttle));
    try {
      for (const user of ['a@example.com', 'b@example.com', 'c@example.com']) {
        expect((await login(demo, user, 'guess')).status).toBe(400);
      }
      const refused = await login(demo, SEEDED_USER.username, SEEDED_USER.password);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await demo.close();
    }
  });
});
