/**
 * `pnpm demo` — starts the authority and the resource service on free ports, runs the scripted
 * client against them and exits 0 when every step behaved as designed (1 with the failed
 * expectation otherwise). `pnpm demo --serve` starts them on 127.0.0.1:4000 and :4001 (or
 * AUTHORITY_PORT / RESOURCE_PORT) and keeps them running for curl until Ctrl-C. Each mode keeps its
 * database in its own folder under apps/demo/.data (`run/`, `serve/`; DEMO_DATA_DIR moves the root),
 * so a scripted run works while a server is up.
 */

import { join } from 'node:path';
import { handle, runScenario, ScenarioFailure } from './client.js';
import { type RunningDemo, startDemo } from './services.js';
import {
  AUTH_BASE_PATH,
  DEFAULT_AUTHORITY_PORT,
  DEFAULT_DATA_DIR,
  DEFAULT_RESOURCE_PORT,
  DEFAULT_THROTTLE,
  type DemoSettings,
  portFromEnv,
  SEEDED_USER,
} from './settings.js';

const USAGE = `usage: pnpm demo [--serve]

  (no flag)  start both services on free ports, run the scripted client, stop; exit 0 on success
  --serve    keep both services running for curl (authority :4000, resource :4001) until Ctrl-C

environment: AUTHORITY_PORT, RESOURCE_PORT (serve mode; default 4000, 4001), DEMO_DATA_DIR`;

// `pnpm demo -- --serve` hands the script a literal `--`; it separates nothing here.
const args = process.argv.slice(2).filter((arg) => arg !== '--');
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const unknown = args.filter((arg) => arg !== '--serve');
if (unknown.length > 0) {
  console.error(`unknown argument(s): ${unknown.join(' ')}\n\n${USAGE}`);
  process.exit(2);
}
const serve = args.includes('--serve');

let demo: RunningDemo;
try {
  const settings: DemoSettings = {
    host: '127.0.0.1',
    // The scripted run takes free ports so it never collides with a server already running.
    authorityPort: serve ? portFromEnv('AUTHORITY_PORT', DEFAULT_AUTHORITY_PORT) : 0,
    resourcePort: serve ? portFromEnv('RESOURCE_PORT', DEFAULT_RESOURCE_PORT) : 0,
    // One database per mode: PGlite allows one process per folder, and a scripted run must work
    // while `--serve` is up.
    dataDir: join(process.env.DEMO_DATA_DIR?.trim() || DEFAULT_DATA_DIR, serve ? 'serve' : 'run'),
    throttle: DEFAULT_THROTTLE,
  };
  demo = await startDemo(settings, {
    ...(serve
      ? {
          onRevoked: (revocation) =>
            console.log(`[resource] revocation feed: session ${revocation.sessionId} (${revocation.reason})`),
        }
      : {}),
  });
} catch (error) {
  console.error(`The demo could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

printBanner(demo);

if (serve) {
  printServeHelp(demo);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      console.log('Stopping anyway.');
      process.exit(1);
    }
    stopping = true;
    console.log(`\n${signal}: stopping both services…`);
    demo.close().then(
      () => {
        console.log('Stopped cleanly.');
        process.exit(0);
      },
      (error: unknown) => {
        console.error(`Shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('Ctrl-C'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} else {
  let exitCode = 0;
  try {
    await runScenario({
      authorityUrl: demo.authority.url,
      resourceUrl: demo.resource.url,
      username: SEEDED_USER.username,
      password: SEEDED_USER.password,
      maxConsecutiveFailures: DEFAULT_THROTTLE.maxConsecutiveFailures,
      log: (line) => console.log(line),
    });
    console.log('\nAll steps behaved as designed.');
  } catch (error) {
    exitCode = 1;
    if (error instanceof ScenarioFailure) console.error(`\n✗ ${error.message}`);
    else console.error('\n✗ the scripted client crashed:', error);
  } finally {
    await demo.close();
  }
  process.exit(exitCode);
}

function printBanner(running: RunningDemo): void {
  const database = running.databaseCreated
    ? `created, migrations ${running.appliedMigrations.join(', ')} applied`
    : `reused from an earlier run, schema version ${running.schemaVersion}` +
      (running.appliedMigrations.length > 0
        ? `, migrations ${running.appliedMigrations.join(', ')} applied`
        : '');
  console.log('sessionkit demo');
  console.log(`  data folder  ${running.databaseDir} (PGlite; ${database})`);
  console.log(
    `  user         ${SEEDED_USER.username} (${running.seededUser === 'created' ? 'seeded now' : 'already present'}; argon2id)`,
  );
  console.log(
    `  signing key  Ed25519, kid ${running.authority.keyId}: generated at this start, not persisted`,
  );
  console.log(
    `  authority    ${running.authority.url} (Hono): routes under ${AUTH_BASE_PATH}, JWKS at /.well-known/jwks.json`,
  );
  console.log(
    `  resource     ${running.resource.url} (Express): GET /api/me, verified offline from the JWKS + revocation feed` +
      ` (${running.resource.preloadedRevocations} recent revocation(s) preloaded)`,
  );
  console.log(
    `  throttling   ${DEFAULT_THROTTLE.maxConsecutiveFailures} wrong passwords per username and IP → locked ${DEFAULT_THROTTLE.lockoutSeconds / 60} min (429 + Retry-After)`,
  );
  console.log(
    `  tokens are shown as handles (first 8 characters…#sha-256 prefix), e.g. ${handle('skr_example')}`,
  );
}

function printServeHelp(running: RunningDemo): void {
  const auth = `${running.authority.url}${AUTH_BASE_PATH}`;
  console.log(`
Serving. Try (see README "Try it with curl"):
  curl -s -X POST ${auth}/sessions -H 'content-type: application/json' \\
       -d '{"username":"${SEEDED_USER.username}","password":"${SEEDED_USER.password}"}'
  curl -s ${running.resource.url}/api/me -H "authorization: Bearer $ACCESS"
  curl -s -X POST ${auth}/sessions/refresh -H 'content-type: application/json' -d "{\\"refresh_token\\":\\"$REFRESH\\"}"
  curl -s ${auth}/sessions -H "authorization: Bearer $ACCESS"
  curl -s -X DELETE ${auth}/sessions/current -H "authorization: Bearer $ACCESS"
Ctrl-C stops both services.`);
}
