// The swagger CLI plugin as a ts-jest AST transformer (NestJS docs, "CLI plugin" → "Integration with ts-jest"),
// so the OpenAPI document built in tests matches the one `nest build` produces.
const transformer = require('@nestjs/swagger/plugin');

module.exports.name = 'nestjs-swagger-transformer';
module.exports.version = 1;
module.exports.factory = (cs) =>
  transformer.before(
    { introspectComments: true, classValidatorShim: true, dtoFileNameSuffix: ['.dto.ts', '.entity.ts'] },
    cs.program,
  );
