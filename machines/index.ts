/** The machines' public surface: what the server and the browser import. */
export * from './broker.types.ts';
export * from './permissionRequest.machine.ts';
export * from './broker.machine.ts';
export * from './brokerClient.ts';
export * from './selectors.ts';
