'use strict';
/**
 * Writes `src/metadata.ts`: what the @nestjs/swagger CLI plugin reads from the DTOs, entities and controllers
 * (property types, optional fields, validation limits, doc comments, response types), as data the app hands to
 * `SwaggerModule.loadPluginMetadata` at boot. The SWC build behind `npm start` and `npm run build` cannot run the
 * plugin's TypeScript transformer, so this file carries the plugin's output instead (Nest docs, "CLI plugin",
 * SWC builder). The plugin options come from nest-cli.json, the same ones the ts-jest transformer uses.
 *
 * `node scripts/swagger-metadata.js` writes the file (run by `npm run openapi`);
 * `renderSwaggerMetadata()` returns its text, so a test can check the committed file is current.
 */
const { readFileSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const ts = require('typescript');
const { ReadonlyVisitor } = require('@nestjs/swagger/plugin');

const ROOT = join(__dirname, '..');
const OUTPUT = join(ROOT, 'src', 'metadata.ts');

/** The program whose constants `clonePrimitiveLiteral` resolves (see `inlineLiteralConstants`). */
let checker;

/**
 * The plugin's read-only mode drops a validation limit written as a named constant (`@Max(MAX_ID)`): it cannot
 * print a reference to another module's variable. The transformer keeps it. So a constant whose type is a number
 * or string literal is written as that literal here, and both builds document the same limit. Installed once.
 */
function inlineLiteralConstants() {
  const visitorFile = join(dirname(require.resolve('@nestjs/swagger/plugin')), 'visitors', 'model-class.visitor.js');
  const { ModelClassVisitor } = require(visitorFile);
  const clone = ModelClassVisitor.prototype.clonePrimitiveLiteral;
  if (clone.inlinesConstants) return;
  const patched = function (factory, node) {
    const literal = clone.call(this, factory, node);
    if (literal || !node || !(ts.isIdentifier(node) || ts.isPropertyAccessExpression(node))) return literal;
    const type = checker.getTypeAtLocation(node);
    if (type.isNumberLiteral()) {
      return type.value < 0
        ? factory.createPrefixUnaryExpression(ts.SyntaxKind.MinusToken, factory.createNumericLiteral(-type.value))
        : factory.createNumericLiteral(type.value);
    }
    if (type.isStringLiteral()) return factory.createStringLiteral(type.value);
    return undefined;
  };
  patched.inlinesConstants = true;
  ModelClassVisitor.prototype.clonePrimitiveLiteral = patched;
}

/** @returns the text of `src/metadata.ts` for the current sources (one line per class, so merges stay small) */
function renderSwaggerMetadata() {
  const nestCli = JSON.parse(readFileSync(join(ROOT, 'nest-cli.json'), 'utf8'));
  const plugin = nestCli.compilerOptions.plugins.find((p) => (p.name ?? p) === '@nestjs/swagger');
  const visitor = new ReadonlyVisitor({ ...plugin.options, pathToSource: join(ROOT, 'src') });
  const program = ReadonlyVisitor.createTsProgram(join(ROOT, 'tsconfig.build.json'));
  checker = program.getTypeChecker();
  inlineLiteralConstants();
  for (const sourceFile of program.getSourceFiles()) {
    if (!sourceFile.isDeclarationFile) visitor.visit(program, sourceFile);
  }
  const { models, controllers } = visitor.collect();

  const printer = ts.createPrinter({ newLine: ts.NewLineKind.LineFeed });
  const scratch = ts.createSourceFile('metadata.ts', '', ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const print = (node) => printer.printNode(ts.EmitHint.Unspecified, node, scratch);
  const literal = (value) =>
    ts.isObjectLiteralExpression(value)
      ? print(value)
      : `{ ${Object.entries(value).map(([key, inner]) => `${JSON.stringify(key)}: ${literal(inner)}`).join(', ')} }`;
  // Sorted by path, so the file does not change with the order the compiler happens to read the sources in.
  const files = (entries) =>
    entries
      .map(([importExpr, classes]) => [print(importExpr), classes])
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([importText, classes]) => {
        const lines = Object.entries(classes).map(([name, meta]) => `          ${JSON.stringify(name)}: ${literal(meta)},`);
        return `        [${importText}, {\n${lines.join("\n")}\n        }],`;
      })
      .join('\n');
  const imports = Object.entries(visitor.typeImports).sort(([a], [b]) => a.localeCompare(b)).map(([path, expr]) => `    [${JSON.stringify(path)}]: ${expr},`);
  return [
    '/* eslint-disable */',
    '// Written by scripts/swagger-metadata.js (`npm run openapi`): the @nestjs/swagger plugin\'s view of the DTOs,',
    '// entities and controllers, loaded at boot. Do not edit.',
    'export default async () => {',
    '  const t = {',
    ...imports,
    '  };',
    '  return {',
    '    "@nestjs/swagger": {',
    '      "models": [',
    files(models),
    '      ],',
    '      "controllers": [',
    files(controllers),
    '      ],',
    '    },',
    '  };',
    '};',
    '',
  ].join('\n');
}

module.exports = { renderSwaggerMetadata, OUTPUT };

if (require.main === module) {
  writeFileSync(OUTPUT, renderSwaggerMetadata());
  console.log(`Wrote ${OUTPUT}`);
}
