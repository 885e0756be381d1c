/** Schema fragments the dataset plugins share (each plugin's schema, in `src/dataset/<id>.ts`, is the home of its options). */

/** The `dir` option of a dataset read from files: default `data/<name>`. */
export function dirOption<const N extends string>(name: N) {
  return {
    type: 'string',
    minLength: 1,
    default: `data/${name}`,
    description: `Data root directory (relative paths resolve against the config file's directory, or the working directory). Default data/${name}.`,
  } as const;
}

/** The `split` option of datasets with a train and a test split (default test). */
export const trainTestOption = { enum: ['train', 'test'], default: 'test', description: 'Split.' } as const;
