/**
 * bench:models phase: `recommendAll` as of the end date: build the recommender (item-cf,
 * TF-IDF content neighbours, popularity) from every user's interactions, then top-N for
 * every user, written to recommendations. The build/recommend split is where the run's
 * model_runs row is inserted (right after the build).
 */
import { loadConfig } from '../../src/config.js';
import { modelSettings } from '../../src/services/model-settings.js';
import { recommendAll } from '../../src/services/recommend.js';
import { silentLogger } from '../../src/logger.js';
import { phaseArgs, profiled, roundProfile, runPhase, timed, withDatabase } from './common.js';

const { dbUrl, values } = phaseArgs({ end: { type: 'string' } });

await runPhase(() =>
  withDatabase(dbUrl, async (raw) => {
    const s = modelSettings(loadConfig({}));
    const end = new Date(values.end!);
    const { db, profile } = profiled(raw);
    let builtAt = 0;
    const watched: typeof db = {
      ...db,
      query: async (text, params) => {
        if (!builtAt && /^\s*insert into model_runs/i.test(text)) builtAt = performance.now();
        return db.query(text, params);
      },
    };
    const t0 = performance.now();
    const r = await timed(() => recommendAll({ db: watched, log: silentLogger, now: () => end }, s, { asOf: end }));
    return {
      seconds: r.seconds,
      buildSeconds: builtAt ? (builtAt - t0) / 1000 : null,
      recommendSeconds: builtAt ? r.seconds - (builtAt - t0) / 1000 : null,
      users: r.value.users,
      recommendations: r.value.recommendations,
      interactions: r.value.interactions,
      items: r.value.items,
      db: roundProfile(profile),
    };
  }),
);
