// ESLint (flat config) with typescript-eslint's type-aware rules, run by `npm run lint` and by .ci/run.
// Formatting is Prettier's job (.prettierrc.json); no ESLint rule here is about layout.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'runs/**', 'site/**', 'tmp/**', 'dbp-bench-quickstart/**', 'leaderboard/assets/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
  {
    rules: {
      // Contract methods (Dataset.get, Attack.perturb, ...) are async by interface; an implementation that
      // happens not to await is correct, so this rule would only add noise.
      '@typescript-eslint/require-await': 'off',
      // Its autofix drops assertions that contextual typing needs (readonly capability arrays stop
      // type-checking), and its type-argument form would move every `tf.tidy(...) as T` to
      // `tf.tidy<T>(...)`: churn without a bug to find.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // `_`-prefixed names are deliberately unused (interface parameters, destructuring to drop a field).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    // Tests read JSON fixtures, entries and journals and poke at them freely; `any` stays contained there.
    files: ['**/test/**/*.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        console: 'readonly',
        __dirname: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
      },
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['eslint.config.mjs'],
    languageOptions: { sourceType: 'module' },
  },
);
