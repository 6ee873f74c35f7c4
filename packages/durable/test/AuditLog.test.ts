import * as AuditLog from "../src/AuditLog.js"
import * as StoreSuites from "../src/StoreSuites.js"

StoreSuites.auditLogStore("memory", AuditLog.layerStoreMemory)
