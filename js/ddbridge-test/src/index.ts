/**
 * The Node side of ddbridge's test helpers, for Vitest, Jest or plain Node: start a bridge, talk
 * JSON-RPC to it, read its inspector's calls. Playwright Test fixtures are in `@ddbridge/test/playwright`.
 */
export { BridgeStartError, RunningBridge, bridgeCommand, startBridge, type BridgeOptions } from './bridge';
export { CallLog, callsIn, type Call, type InspectorEvent, type WaitOptions } from './calls';
export {
  RpcClient,
  RpcError,
  connect,
  type CallOptions,
  type ConnectOptions,
  type NotificationListener,
} from './client';
export { Mock, type DialogAnswer, type ExecAnswer, type MockAnswers, type ServiceAnswer } from './mock';
