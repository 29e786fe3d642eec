# time 2026-12-05T23:53:39.758236797Z
# netns client
State      Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
FIN-WAIT-2 0      0      [2001:db8::1]:41828 [2001:db8::2]:111        
# netns server
State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN     0      4096   [2001:db8::2]:111           [::]:*           
CLOSE-WAIT 0      0      [2001:db8::2]:111  [2001:db8::1]:41828       
