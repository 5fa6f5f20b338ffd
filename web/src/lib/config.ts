// A run's configuration as dotted keys, and the hyperparameters worth showing first.

/** Leaves of a JSON object as [dotted.key, value]; arrays are leaves. */
export function flattenConfig(value: unknown, prefix = ''): [string, unknown][] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return prefix ? [[prefix, value]] : [];
  }
  const out: [string, unknown][] = [];
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (child !== null && typeof child === 'object' && !Array.isArray(child) && Object.keys(child).length > 0) {
      out.push(...flattenConfig(child, path));
    } else {
      out.push([path, child]);
    }
  }
  return out;
}

/** Names of the hyperparameters that matter most across the algorithms rltrack trains. */
export const KEY_PARAMS = [
  'algo',
  'algorithm',
  'env',
  'policy',
  'total_timesteps',
  'num_envs',
  'learning_rate',
  'gamma',
  'batch_size',
  'n_steps',
  'n_epochs',
  'gae_lambda',
  'clip_range',
  'ent_coef',
  'vf_coef',
  'max_grad_norm',
  'buffer_size',
  'learning_starts',
  'train_freq',
  'gradient_steps',
  'target_update_interval',
  'tau',
  'exploration_fraction',
  'exploration_initial_eps',
  'exploration_final_eps',
  'net_arch',
  'seed',
];

/** The key hyperparameters found anywhere in ``config`` as [dotted.key, value], in KEY_PARAMS
 * order. A name found at several depths keeps its shallowest occurrence; its value is taken
 * whole (``net_arch: {pi: [64], vf: [64]}`` stays one entry). */
export function keyParams(config: Record<string, unknown>): [string, unknown][] {
  const found = new Map<string, [string, unknown]>();
  let level: [string, Record<string, unknown>][] = [['', config]];
  while (level.length > 0) {
    const next: [string, Record<string, unknown>][] = [];
    for (const [prefix, node] of level) {
      for (const [key, value] of Object.entries(node)) {
        const path = prefix ? `${prefix}.${key}` : key;
        if (KEY_PARAMS.includes(key) && !found.has(key)) found.set(key, [path, value]);
        if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
          next.push([path, value as Record<string, unknown>]);
        }
      }
    }
    level = next;
  }
  return KEY_PARAMS.filter((k) => found.has(k)).map((k) => found.get(k)!);
}
