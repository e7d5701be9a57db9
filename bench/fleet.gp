# fleet.gp: bench/results/fleet.png of `make bench-fleet`. bench/fleet_report.py
# writes the data into DIR and runs
#   gnuplot -e "dir='DIR'; out='PNG'; xmin=X; xmax=Y; series='S1 S2'" bench/fleet.gp
# (series: those with at least one run; one row of two panels each)
#
# fleet-<series>-q<Q>.dat: n broker_cpu sink_cpu bench_cpu lat_p50 lat_p99 lat_max
# (CPU in % of one core; latency in ms, sample ts to the sink's receipt).
# Rows, the series of bench/fleet.py: shipped (sink --sync full, broker
# saving at every change), sync-normal (sink --sync normal), relaxed (that,
# and the broker saving every 30 min).

set terminal pngcairo size 1400,(200 + 400 * words(series)) font "sans,10"
set output out
set datafile missing "-"

set multiplot layout words(series),2 title "one mosquitto + one pitemp-sink: N sensors x 100 Hz from pitemp-bench (solid QoS 0, dashed QoS 1)"
set logscale x 2
set xrange [xmin:xmax]
set xlabel "sensors (N)"
set grid
set key top left

cpu(sr) = sprintf("plot '%s/fleet-%s-q0.dat' u 1:2 w lp lw 2 pt 7 lc rgb '#4477aa' t 'broker q0', '' u 1:3 w lp lw 2 pt 7 lc rgb '#ee6677' t 'sink q0', '' u 1:4 w lp lw 2 pt 7 lc rgb '#228833' t 'bench q0', '%s/fleet-%s-q1.dat' u 1:2 w lp lw 2 dt 2 pt 5 lc rgb '#4477aa' t 'broker q1', '' u 1:3 w lp lw 2 dt 2 pt 5 lc rgb '#ee6677' t 'sink q1', '' u 1:4 w lp lw 2 dt 2 pt 5 lc rgb '#228833' t 'bench q1'", dir, sr, dir, sr)
lat(sr) = sprintf("plot '%s/fleet-%s-q0.dat' u 1:6 w lp lw 2 pt 7 lc rgb '#aa3377' t 'p99 q0', '' u 1:7 w lp lw 1 pt 6 lc rgb '#999999' t 'max q0', '' u 1:5 w lp lw 1 pt 7 lc rgb '#66ccee' t 'p50 q0', '%s/fleet-%s-q1.dat' u 1:6 w lp lw 2 dt 2 pt 5 lc rgb '#aa3377' t 'p99 q1', '' u 1:7 w lp lw 1 dt 2 pt 4 lc rgb '#999999' t 'max q1', '' u 1:5 w lp lw 1 dt 2 pt 5 lc rgb '#66ccee' t 'p50 q1', 50 w l dt 3 lc rgb 'black' t '50 ms'", dir, sr, dir, sr)

do for [sr in series] {
    set title sprintf("%s: CPU, %% of one core", sr)
    set ylabel "% of one core"
    unset logscale y
    set yrange [0:*]
    eval cpu(sr)

    set title sprintf("%s: latency, sample ts to the sink's receipt", sr)
    set ylabel "ms"
    set logscale y 10
    set yrange [*:*]
    eval lat(sr)
}
unset multiplot
