# temperature.gp: temperature against time, one colour per device. Run by
# plot/plot.py, which writes the data and sets:
#   data     per device two blocks (gnuplot's index, separated by two blank
#            lines) of "epoch_seconds temp_c" lines: index 2i the readings,
#            2i+1 the window means
#   out      the PNG        title, subtitle   the headings
#   names    the devices, blank separated, in block order   ndev  their count
#   xfmt     the time format of the x axis (UTC)
#   means    1: draw the means (window mean_s seconds)   0: readings only

set terminal pngcairo size 960,480 font "sans,10"
set output out
set title title."\n{/*0.85 ".subtitle."}"
set xdata time
set timefmt "%s"
set format x xfmt
set xlabel "time (UTC)"
set ylabel "temperature (°C)"
set grid
set key outside right top
set autoscale xfix
set datafile missing "NaN"

# Colour-blind safe (Okabe-Ito); the readings faded (alpha a: 0 opaque, 1
# transparent) under the means.
colors = "0072b2 d55e00 009e73 cc79a7 e69f00 56b4e9 f0e442 000000"
col(i, a) = sprintf("#%02x%s", int(a * 255), word(colors, i % 8 + 1))
if (means) {
    plot for [i=0:ndev-1] data index 2*i using 1:2 with lines lw 1 \
            lc rgb col(i, 0.7) title word(names, i+1)." readings", \
         for [i=0:ndev-1] data index 2*i+1 using 1:2 with linespoints lw 2 \
            pt 7 ps 0.5 lc rgb col(i, 0) title word(names, i+1)." ".mean_s." s mean"
} else {
    plot for [i=0:ndev-1] data index 2*i using 1:2 with lines lw 1 \
            lc rgb col(i, 0) title word(names, i+1)
}
