// Depth-2 structured pruning lands here (issue 6).
import Transformer
import LinearAlgebra
