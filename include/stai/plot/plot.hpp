// stai — figures: spatial maps (continuous values, measured/imputed pairs,
// categories, true vs predicted cell types) and histograms, drawn with cairo
// into PNG, SVG or PDF files (the format follows the file extension).
// This header includes all of them.
//
// Linking: these headers call cairo, so a program that includes them links
// `pkg-config --cflags --libs cairo` (CMake: the stai::plot target).
//
// Conventions of every map:
//  * Orientation: IMAGE coordinates, y grows DOWNWARD (the cell with the
//    smallest y is at the top), as in scanpy's sc.pl.spatial, which shows
//    tissue coordinates the way the microscope image shows them. x grows to
//    the right. One coordinate unit has the same length on both axes (the
//    aspect ratio is preserved); the map sits centred in a thin frame without
//    axes or scale (spatial units are arbitrary).
//  * Point size: unless PlotOptions::point_size is set, the marker diameter is
//    the typical spacing between cells, 1 / sqrt(local density) estimated from
//    the 8 nearest neighbours (so neighbouring markers about touch), clamped to
//    a readable range (2 px .. 5% of the map's shorter side).
//  * Continuous values use viridis with robust limits (1st..99th percentile of
//    the finite values, numpy's linear interpolation) unless vmin/vmax are
//    given; values outside are clamped to the end colours. Cells are drawn in
//    ascending value order (the highest on top, like scanpy's sort_order);
//    non-finite values are drawn first, in light grey.
//  * Categories get a fixed qualitative palette by their position in the
//    category order (20 colours, then generated hues), so the same order gives
//    the same colours in every figure.
//  * White background, sans-serif text through cairo's toy text API.
//  * Files are written atomically (temporary file + rename, io/atomic_file.hpp):
//    an error never leaves a half-written image or clobbers an existing one.
//
// Sizes are pixels for PNG and points (1/72 inch) for SVG/PDF; the layout is
// identical for all three formats.
//
// The parts: surface.hpp (formats, output), colormap.hpp, statistics.hpp
// (percentiles, histograms), ticks.hpp, text.hpp, style.hpp, options.hpp,
// extent.hpp, spacing.hpp (marker size), map_panel.hpp, colorbar.hpp,
// layout.hpp, legend.hpp; the figures spatial_continuous.hpp,
// spatial_categories.hpp and histogram.hpp.
#pragma once
#include "histogram.hpp"
#include "spatial_categories.hpp"
#include "spatial_continuous.hpp"
