// Checks rendered manifests against the Kubernetes API: the schemas (types, required fields, formats)
// through kubernetes-models, and unknown fields (a typo such as `readinesProbe`, which the schemas let
// through and the API server would drop or refuse) through TypeScript's excess-property check on the
// same models' interfaces.
//
//   npm run --silent deploy:render -- values.json | npm run --silent deploy:validate
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { parseManifests } from './render.js';

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** apiVersion/kind → the module of kubernetes-models and the interface it exports. */
const MODELS: Record<string, { module: string; type: string }> = {
  'v1/ConfigMap': { module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  'v1/Secret': { module: 'kubernetes-models/v1/Secret', type: 'ISecret' },
  'v1/Service': { module: 'kubernetes-models/v1/Service', type: 'IService' },
  'v1/PersistentVolumeClaim': { module: 'kubernetes-models/v1/PersistentVolumeClaim', type: 'IPersistentVolumeClaim' },
  'apps/v1/Deployment': { module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' },
  'networking.k8s.io/v1/NetworkPolicy': { module: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy', type: 'INetworkPolicy' },
};

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function modelOf(manifest: Record<string, unknown>): { module: string; type: string } {
  const key = `${manifest.apiVersion as string}/${manifest.kind as string}`;
  const model = MODELS[key];
  if (!model) throw new Error(`no Kubernetes model for ${key} (known: ${Object.keys(MODELS).join(', ')})`);
  return model;
}

function describe(manifest: Record<string, unknown>): string {
  const name = (manifest.metadata as { name?: string } | undefined)?.name ?? '?';
  return `${manifest.kind as string} ${name}`;
}

/** Schema errors, one line each ("Deployment x: /spec/replicas must be integer"). */
export function schemaErrors(manifests: Array<Record<string, unknown>>): string[] {
  const errors: string[] = [];
  for (const manifest of manifests) {
    const exported = require(modelOf(manifest).module) as Record<string, ModelClass>;
    const Model = exported[manifest.kind as string];
    try {
      new Model(manifest).validate();
    } catch (error) {
      const details = (error as { errors?: Array<{ instancePath: string; message?: string }> }).errors;
      const lines = details?.map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim()) ?? [(error as Error).message];
      errors.push(...lines.map((line) => `${describe(manifest)}: ${line}`));
    }
  }
  return errors;
}

/** Unknown or mistyped fields, found by type-checking each manifest as a literal of its model's interface. */
export function fieldErrors(manifests: Array<Record<string, unknown>>): string[] {
  const lines = manifests.map((manifest, i) => {
    const { module, type } = modelOf(manifest);
    return `import type { ${type} as T${i} } from '${module}';\nexport const m${i}: T${i} = ${JSON.stringify(manifest, null, 1)};`;
  });
  const fileName = path.join(ROOT, '__rendered_manifests__.ts');
  const source = lines.join('\n');
  const options: ts.CompilerOptions = { strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, skipLibCheck: true, types: [] };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => (name === fileName ? source : readFile(name));
  host.fileExists = ((exists) => (name: string) => name === fileName || exists(name))(host.fileExists.bind(host));
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === fileName ? ts.createSourceFile(name, source, languageVersion, true) : getSourceFile(name, languageVersion, ...rest);
  const program = ts.createProgram([fileName], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return text;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    // Name the manifest the error is in: the nearest `export const mN` above the line.
    const before = source.split('\n').slice(0, line + 1).reverse().find((l) => l.startsWith('export const m'));
    const index = before ? Number(/^export const m(\d+)/.exec(before)![1]) : -1;
    return `${index >= 0 ? describe(manifests[index]) : 'manifests'}: ${text}`;
  });
}

/** Both checks; an empty list means the stream is valid. */
export function validateManifests(text: string): string[] {
  const manifests = parseManifests(text);
  const errors = schemaErrors(manifests);
  return errors.length > 0 ? errors : fieldErrors(manifests);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  const text = readFileSync(file ?? 0, 'utf8');
  const errors = validateManifests(text);
  if (errors.length > 0) {
    process.stderr.write(`deploy:validate: ${errors.length} problem(s)\n${errors.map((e) => `  ${e}`).join('\n')}\n`);
    process.exit(1);
  }
  process.stdout.write(`deploy:validate: ${parseManifests(text).length} manifests valid\n`);
}
