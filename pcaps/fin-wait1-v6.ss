# netns client
State      Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
FIN-WAIT-1 0      1      [2001:db8::1]:46264 [2001:db8::2]:86         
# netns server
State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN 0      4096   [2001:db8::2]:86            [::]:*           
ESTAB  0      0      [2001:db8::2]:86   [2001:db8::1]:46264       
