import * as Checkpoint from "../src/Checkpoint.js"
import * as StoreSuites from "../src/StoreSuites.js"

StoreSuites.checkpointStore("memory", Checkpoint.layerStoreMemory)
