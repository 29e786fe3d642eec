# time 2026-12-05T23:53:24.107396629Z
# netns client
State      Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
FIN-WAIT-1 0      1      [2001:db8::1]:46464 [2001:db8::2]:110        
# netns server
State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN 0      4096   [2001:db8::2]:110           [::]:*           
ESTAB  0      0      [2001:db8::2]:110  [2001:db8::1]:46464       
