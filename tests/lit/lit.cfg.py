# lit configuration: every .cnn file under tests/lit holds its own RUN and
# CHECK lines (see the MLIR Toy tests).
import os
import lit.formats

config.name = "cnnc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".cnn"]
config.test_source_root = os.path.join(config.cnnc_src_root, "tests", "lit")
config.test_exec_root = os.path.join(config.cnnc_tools_dir, "tests", "lit-out")
config.excludes = ["Inputs"]

config.substitutions.append(("%models", os.path.join(config.cnnc_src_root, "models")))
config.environment["PATH"] = os.pathsep.join(
    [config.cnnc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "/usr/bin:/bin")])
