/** The wire contract: schemas, types and constants shared by server, browser and clients. */
export * from './constants.ts';
export * from './fields.ts';
export * from './messages.ts';
export * from './http.ts';
export * from './createBody.ts';
export * from './parse.ts';
export * from './canonicalJson.ts';
export * from './visibleText.ts';
export * from './agentChoices.ts';
export * from './outcome.ts';
export * from './uuidv7.ts';
