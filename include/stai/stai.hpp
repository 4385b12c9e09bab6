// stai — umbrella header: the whole header-only library (CPU backend).
#pragma once
#include "config.hpp"
#include "error.hpp"
#include "random.hpp"
#include "context.hpp"
#include "backend/cpu.hpp"
#include "tensor/matrix.hpp"
#include "tensor/param_arena.hpp"
#include "ops/elementwise.hpp"
#include "layers/linear.hpp"
#include "layers/activations.hpp"
