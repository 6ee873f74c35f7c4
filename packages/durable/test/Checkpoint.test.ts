import * as Checkpoint from "../src/Checkpoint.js"
import { suite } from "./Checkpoint.suite.js"

suite("memory", Checkpoint.layerMemory)
