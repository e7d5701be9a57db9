# report.gp: report.png of `make capture`. capture/report.py writes the
# data files into DIR/plot/ and runs
#   gnuplot -e "dir='DIR'; n=N" capture/report.gp
#
# bars.dat: label  bytes_per_reading  setup_bytes  up_per_reading  down_per_reading
# gaps-<transport>.dat: reading_index  inter_arrival_ms

set terminal pngcairo size 1280,960 font "sans,11"
set output dir."/report.png"
d = dir."/plot/"

set multiplot title sprintf("pitemp on the wire: %d readings at 100 Hz per transport (captured on the server's veth)", n)

set style fill solid 0.75 border -1
set boxwidth 0.6
set grid ytics
set xtics nomirror
set key off
set yrange [0:*]
set offsets 0.5, 0.5, 0, 0

# Panel 1: steady-state bytes per reading, split by direction.
set size 0.5, 0.5
set origin 0.0, 0.47
set title "bytes on the wire per reading (steady state)"
set ylabel "bytes (frame.len)"
set key top left
set style histogram rowstacked
set style data histograms
plot d."bars.dat" using 4:xtic(1) title "sensor -> server" lc rgb "#4477aa", \
     "" using 5 title "server -> sensor (ACK, PUBACK)" lc rgb "#ee6677", \
     "" using 0:2:(sprintf("%.1f", $2)) with labels offset 0,0.8 notitle

# Panel 2: connection set-up cost.
set origin 0.5, 0.47
set title "bytes to set the connection up (before the first reading)"
set key off
set style data boxes
plot d."bars.dat" using 0:3:xtic(1) with boxes lc rgb "#228833", \
     "" using 0:3:(sprintf("%d", $3)) with labels offset 0,0.8

# Panel 3: inter-arrival time of readings at the server.
set size 1.0, 0.47
set origin 0.0, 0.0
set title "inter-arrival time of readings at the server (0 = arrived in the same TCP segment as the previous one)"
set xlabel "reading"
set ylabel "ms since the previous reading"
set key top right
set offsets 0, 0, 0, 0
set xrange [0:n]
set yrange [0:*]
plot d."gaps-socket.dat" using 1:2 with linespoints pt 7 ps 0.5 lc rgb "#4477aa" title "socket", \
     d."gaps-mqtt-qos0.dat" using 1:2 with linespoints pt 5 ps 0.5 lc rgb "#ee6677" title "MQTT QoS 0", \
     d."gaps-mqtt-qos1.dat" using 1:2 with linespoints pt 9 ps 0.5 lc rgb "#228833" title "MQTT QoS 1", \
     d."gaps-mqtts.dat" using 1:2 with linespoints pt 11 ps 0.5 lc rgb "#aa3377" title "MQTT/TLS QoS 1"

unset multiplot
