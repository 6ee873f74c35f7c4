/**
 * @since 0.3.0
 */
export * as GrpcClient from "./GrpcClient.js"
export * as GrpcConnection from "./GrpcConnection.js"
export * as GrpcError from "./GrpcError.js"
export * as GrpcPipeline from "./GrpcPipeline.js"
export * as GrpcInterceptor from "./GrpcInterceptor.js"
